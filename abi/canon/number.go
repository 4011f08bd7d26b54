package canon

import "strconv"

// Number is a JSON number literal. Decoding into any or into Number yields
// the literal in canonical form, so integers keep every digit instead of
// being rounded to a float64. Marshal checks the literal and emits its
// canonical form; the empty Number encodes as 0.
type Number string

// String returns the literal.
func (n Number) String() string { return string(n) }

// Int64 returns the number as an int64, failing for non-integer literals
// and integers out of range.
func (n Number) Int64() (int64, error) { return strconv.ParseInt(string(n), 10, 64) }

// Float64 returns the nearest float64 to the number.
func (n Number) Float64() (float64, error) { return strconv.ParseFloat(string(n), 64) }

// Raw is an already encoded JSON value. Marshal checks it and emits its
// canonical form (an empty Raw encodes as null); Unmarshal stores a
// canonical copy of the value, "null" included, so that present-and-null
// can be told apart from absent.
type Raw []byte
