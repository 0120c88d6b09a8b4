# Writes OUT (usher.1) and OUT.gz with help2man from the binary's own help
# texts, so the man page cannot drift from them: `usher --help` and
# `--version` make NAME and DESCRIPTION; every command listed under
# "commands:" in `usher --help` adds its `usher CMD --help` to a COMMANDS
# section, and so does each command listed in that (usher trace convert). Run with `cmake -P` by the usher_man target
# (cmake/UsherPackaging.cmake) whenever the binary changes.
# Inputs: USHER (the binary), HELP2MAN, GZIP (may be empty), OUT.
execute_process(COMMAND "${USHER}" --help OUTPUT_VARIABLE top RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "${USHER} --help failed (${failed})")
endif()

# The names under "commands:" in a help text: the first word of each line.
function(command_names help out)
  string(REGEX MATCH "\ncommands:\n(  [^\n]*\n)+" block "${help}")
  string(REGEX MATCHALL "\n  [a-z][a-z-]*" names "${block}")
  list(TRANSFORM names STRIP)
  # help and version print the top-level usage and the version line.
  list(REMOVE_ITEM names help version)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

# Appends `usher WORDS --help` to the section as ".SS usher WORDS", then
# the help of each of its own commands (usher trace convert, ...).
function(append_help words)
  execute_process(COMMAND "${USHER}" ${words} --help OUTPUT_VARIABLE help RESULT_VARIABLE failed)
  string(REPLACE ";" " " title "usher ${words}")
  if(failed OR help STREQUAL "")
    message(FATAL_ERROR "${title} --help failed (${failed}): the man page needs every command's help")
  endif()
  command_names("${help}" subcommands)
  # Roff: a backslash is \e; a line starting with . or ' would be a request,
  # and one starting with [ or / means something to help2man's include file.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'[/])" "\\1\\\\&\\2" help "${help}")
  set_property(GLOBAL APPEND_STRING PROPERTY usher_commands ".SS \"${title}\"\n.nf\n${help}.fi\n")
  foreach(sub IN LISTS subcommands)
    append_help("${words};${sub}")
  endforeach()
endfunction()

command_names("${top}" commands)
foreach(command IN LISTS commands)
  append_help("${command}")
endforeach()
get_property(commands_text GLOBAL PROPERTY usher_commands)
set(section "[COMMANDS]\n${commands_text}")
string(APPEND section "
[FILES]
.TP
.I /etc/usher/usher.ini
The config of the usher service installed by the Debian package
(usher serve \\-\\-config; the format is in docs/SERVE.md).

[SEE ALSO]
README.md and docs/*.md, installed with usher under share/doc/usher:
docs/SERVE.md (the live node, its config and running it as a service),
docs/PLANS.md (every plan key), docs/FORMATS.md (the files usher reads and writes).
")
file(WRITE "${OUT}.h2m" "${section}")

execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=1
          "--name=concurrency plans of AI inference APIs, simulated and enforced"
          "--include=${OUT}.h2m" "--output=${OUT}" "${USHER}"
  RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "help2man failed (${failed})")
endif()
if(GZIP)
  # -n: no name or time stamp inside, so the same page gives the same bytes.
  execute_process(COMMAND "${GZIP}" -9n -c "${OUT}" OUTPUT_FILE "${OUT}.gz" RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "gzip ${OUT} failed (${failed})")
  endif()
endif()
