/// (No include guard: it is meant to be included more than once.)
/// The gate types built into usher: one line each, USHER_BUILTIN_GATE(type,
/// summary), whose factory `make_<type>` lives in policies/gates/<type>.cpp.
/// policies/gate.cpp expands this list twice: to declare the factories and
/// to register them.

USHER_BUILTIN_GATE(tokens_in_flight, "the input and output tokens of an account's running requests, capped")
USHER_BUILTIN_GATE(key_cap, "the units each API key of an account may hold of its pool, capped")
