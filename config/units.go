package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "30s", "5m" or "24h" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML returns a *yaml.TypeError rather than a plain error so that the
// decoder carries on and every bad value in the file is reported, not just the
// first. The "line L column C:" prefix lets Parse find the field it belongs to.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := time.ParseDuration(strings.TrimSpace(n.Value)); err == nil {
			*d = Duration(v)
			return nil
		}
	}
	return nodeError(n, "must be a duration like 30s, 5m or 24h")
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a size written as "25MB", "512KiB" or a plain number of bytes.
type ByteSize int64

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := ParseByteSize(n.Value); err == nil {
			*b = v
			return nil
		}
	}
	return nodeError(n, "must be a size like 25MB, 512KiB or a number of bytes")
}

func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// byteUnits is ordered largest first so that String picks the largest unit
// that divides the size exactly.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"TB", 1e12},
	{"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6},
	{"KiB", 1 << 10}, {"KB", 1e3},
	{"B", 1},
}

// ParseByteSize reads a non-negative whole number followed by an optional
// unit: B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024).
// Units are case-insensitive and may be separated from the number by spaces:
// "25MB", "25 mb", "512KiB", "1024".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, unit := s[:i], strings.TrimSpace(s[i:])
	if digits == "" {
		return 0, fmt.Errorf("not a size (want e.g. 25MB, 512KiB or a number of bytes): %q", s)
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.suffix) {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("unknown size unit %q in %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit, s)
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(v * mult), nil
}

// String writes b in the largest unit that represents it exactly, so that
// String and ParseByteSize round-trip.
func (b ByteSize) String() string {
	if b == 0 {
		return "0B"
	}
	for _, u := range byteUnits {
		if int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// nodeError reports a bad value the way the yaml decoder reports its own type
// errors, plus the column so that a flow mapping ({a: 1, b: 2}) on one line
// still resolves to the right field.
func nodeError(n *yaml.Node, reason string) error {
	got := strconv.Quote(n.Value)
	if n.Kind != yaml.ScalarNode {
		got = kindName(n.Kind)
	}
	return &yaml.TypeError{Errors: []string{
		fmt.Sprintf("line %d column %d: %s (got %s)", n.Line, n.Column, reason, got),
	}}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a scalar"
}

// FormatDuration writes d as the config is written: without the zero units
// time.Duration.String writes ("4h", not "4h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
