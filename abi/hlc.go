package abi

import (
	"fmt"
	"strings"
)

// The executor enforces that accepted HLCs never go backwards, and catalogs
// (the SWOOSH catalog records hlc_last) may check the same rule: both use
// this one comparison, so they can never disagree.

// CompareHLC orders two hybrid logical clock values of the SWOOSH form
// "physical-logical-node" (for example "1-0-0000000000000001"): component
// by component, each read as an unsigned number in hexadecimal digits (so
// decimal components order correctly too), a missing component lowest.
func CompareHLC(a, b string) (int, error) {
	pa, err := hlcParts(a)
	if err != nil {
		return 0, err
	}
	pb, err := hlcParts(b)
	if err != nil {
		return 0, err
	}
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		switch {
		case len(x) != len(y):
			if len(x) < len(y) {
				return -1, nil
			}
			return 1, nil
		case x != y:
			if x < y {
				return -1, nil
			}
			return 1, nil
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1, nil
	case len(pa) > len(pb):
		return 1, nil
	}
	return 0, nil
}

// ValidHLC reports whether s is a well-formed HLC, and why not.
func ValidHLC(s string) error {
	_, err := hlcParts(s)
	return err
}

// hlcParts splits and normalises an HLC: lower case, leading zeros gone.
func hlcParts(s string) ([]string, error) {
	if s == "" || len(s) > 128 {
		return nil, fmt.Errorf("hlc %q: want 1 to 128 characters", s)
	}
	parts := strings.Split(strings.ToLower(s), "-")
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("hlc %q: empty component", s)
		}
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return nil, fmt.Errorf("hlc %q: component %q is not a hexadecimal number", s, p)
			}
		}
		parts[i] = strings.TrimLeft(p, "0")
	}
	return parts, nil
}
