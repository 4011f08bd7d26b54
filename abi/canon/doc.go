// Package canon is the canonical JSON codec of the host/guest contract. It
// compiles natively and for GOOS=wasip1, and both sides use it: the guest to
// decode transition inputs and encode state values on every transition, the
// host to hash inputs (inputs_hash is SHA-256 over the canonical form) and
// to compare state values byte for byte across machines, replays and
// catalog versions.
//
// It owns the canonical form below. It must never import encoding/json,
// depend on time, randomness or map iteration order, or change the bytes it
// produces for an existing value: that would change recorded hashes, so it
// is an ABI break.
//
// # Canonical form
//
// A canonical text is UTF-8 with no whitespace outside strings.
//
//   - Objects: members sorted by key, comparing the keys' UTF-8 bytes (not
//     UTF-16 code units as RFC 8785 does; the two orders differ only between
//     characters above U+FFFF and U+E000..U+FFFF). No duplicate keys. Go
//     structs are objects whose members are sorted by JSON name, whatever
//     the field declaration order.
//   - Strings: '"' and '\' are escaped as \" and \\; control characters
//     below U+0020 as \b, \f, \n, \r, \t, or else \u00XX with lowercase hex.
//     Every other character, including U+2028, U+2029, '<', '>' and '&',
//     is written as literal UTF-8.
//   - Integers (Go int and uint kinds; JSON number literals without fraction
//     or exponent) are plain decimal digits, kept exactly however long
//     they are; -0 is written 0.
//   - Other numbers are float64 values (float32 for Go float32), written as
//     the shortest decimal that reads back as the same value, laid out as
//     ECMAScript's Number.prototype.toString does (as in RFC 8785): let the
//     value be 0.d1…dk × 10^n with k as small as possible; if k ≤ n ≤ 21 the
//     digits followed by n−k zeros ("1", "100000000000000000000"); if
//     0 < n ≤ 21 the digits with a point after the n-th ("1.5"); if
//     −6 < n ≤ 0 "0." followed by −n zeros and the digits ("0.000001");
//     otherwise d1, then "." and d2…dk if k > 1, then "e", the sign of n−1
//     ("+" or "-") and n−1 in decimal ("1e+21", "1.5e-7"). -0 is written 0.
//     NaN and ±Inf have no JSON form and are errors.
//   - true, false and null as such.
//
// Canonicalize turns any JSON text into this form: integer literals keep
// their digits, every other number literal is read as the nearest float64
// and rewritten by the float rule ("1.0" becomes "1", "1E2" becomes "100";
// a literal beyond the float64 range is an error, one below it reads as 0).
//
// # Go values
//
// Supported types are bool, integer and float kinds, string, []byte (standard
// base64 with padding), slices, arrays, maps whose keys are strings or
// integers (integer keys are written as decimal strings and sorted as
// strings), pointers (nil is null), structs, interfaces, Number and Raw.
// Struct fields are the exported ones, named by the `json` tag or the Go
// name; the options omitempty (omit false, 0, "", nil and empty
// collections) and omitzero (omit the zero value) are understood, any
// other option is an error, and json:"-" skips a field. Untagged embedded structs and pointers to structs
// have their fields promoted, as encoding/json does, but two fields with the
// same JSON name are an error instead of being resolved by depth. A nil
// slice or map is null and an empty one is [] or {}. Strings must be valid
// UTF-8. Interfaces like json.Marshaler are not consulted, time.Time gets no
// special form, and chan, func, complex and unsafe pointer types are errors.
// Marshal fails on nesting deeper than 512 levels, which only a cyclic value
// reaches in practice. Type errors (an unsupported field type, a name
// conflict) are reported on first use of the type, whatever the value.
//
// # Decoding
//
// Unmarshal is strict, because its input comes from untrusted clients. It
// rejects invalid UTF-8 and lone surrogate escapes, duplicate object keys, an
// object member that names no field of the struct (names match exactly, not
// case-insensitively as in encoding/json), any data after the value, an
// integer that overflows its Go type, a number with fraction or exponent
// into an integer type, base64 with line breaks or non-zero padding bits, an
// array whose length differs from a Go array's, map keys that are not the
// canonical decimal form of an integer for integer-keyed maps, and nesting
// deeper than 512 levels. null decodes to the zero value of any type (as in
// encoding/json) except Raw, which stores "null". Into an empty interface,
// objects decode as map[string]any, arrays as []any, numbers as Number,
// strings as string, true and false as bool and null as nil; a non-empty
// interface accepts only null.
//
// Errors are *Error values whose text starts with the path of the offending
// value from the root, for example:
//
//	by: cannot decode string into int64
//	members[2]: unknown field "rol"
//	items[0].qty: number 300 overflows int8
//
// # Implementation
//
// Each Go type gets a plan, built once with reflect and cached: its kind,
// and for structs the fields sorted by JSON name with their offsets.
// Values are then read and written through unsafe pointers at those
// offsets, which relies on the layouts of slices and interfaces (see
// sliceHeader and eface). The hot paths (a struct of strings and integers
// in, an integer or a struct out) avoid calls and loops where they can,
// because Go compiled to wasm pays heavily for both; the benchmarks in this
// package compare every path with encoding/json.
package canon
