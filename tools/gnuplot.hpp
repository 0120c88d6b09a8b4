#pragma once
/// Runs gnuplot (Debian package gnuplot-nox) on a script usher generates:
/// the pictures of tools/plots.hpp. gnuplot runs as a child process in the
/// directory it draws into, with the script's path as its one argument (no
/// shell), and its error output is kept so a failure names gnuplot's own
/// message. Scripts name their files relative to that directory, so they
/// still work after the directory is renamed into place
/// (tools/staged_files.hpp) and redraw by hand from there.

#include <string>

namespace usher::tools {

/// Writes `script` to `dir`/`script_name` and runs gnuplot on it in `dir`.
/// Throws std::runtime_error when gnuplot is missing or fails, with its message.
void run_gnuplot(const std::string& dir, const std::string& script_name, const std::string& script);

/// A gnuplot string literal: single-quoted, quotes doubled.
std::string gnuplot_quote(const std::string& text);

/// The terminal line every picture uses: SVG of `width` x `height`, white
/// background, plain (non-enhanced) text so names with _ or ^ print as they are.
std::string svg_terminal(int width, int height);

/// The colours of lines and bars, in order (a colour-blind-safe palette).
const char* palette(std::size_t i);

}  // namespace usher::tools
