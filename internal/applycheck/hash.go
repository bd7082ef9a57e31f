// Package applycheck answers, without a cluster and without building the apply request, the
// two questions the operator asks about every child object on every reconcile: what is the
// hash of the apply body the operator would send now (Hash), and does the live object already
// hold every field of that body (Holds).
//
// Both follow encoding/json exactly: the apply body is the object's JSON without status and
// metadata.creationTimestamp, so the answers must be the ones a JSON round trip would give.
// They are kept apart from the reconcilers so that tests can hold them to that, field by field.
package applycheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Hash is the hash of the apply body for obj: the SHA-256 of the GVK, a newline and the body's
// JSON with object keys sorted (as encoding/json writes a map[string]any), truncated to 12 bytes
// and written in hex. Every object the operator writes carries it, so it must never change for
// the same body: an upgrade that changed it would rewrite every child.
//
// It rewrites the JSON of obj in place of decoding it into maps and encoding them again, which
// allocated for every child. Anything the rewrite cannot reproduce byte for
// byte (a key that needs escaping, a number that is not a small integer) takes the round trip.
func Hash(obj any, gvk string) (string, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("encoding %T: %w", obj, err)
	}
	w := writerPool.Get().(*sortedWriter)
	defer writerPool.Put(w)
	w.out = append(w.out[:0], gvk...)
	w.out = append(w.out, '\n')
	if _, ok := w.value(raw, 0, 0, false); !ok {
		w.out = w.out[:len(gvk)+1]
		body, err := roundTrip(raw)
		if err != nil {
			return "", err
		}
		w.out = append(w.out, body...)
	}
	sum := sha256.Sum256(w.out)
	return hex.EncodeToString(sum[:12]), nil
}

// roundTrip is the body's JSON the long way: decoded into maps, without what the apply body
// leaves out, encoded again (keys sorted).
func roundTrip(raw []byte) ([]byte, error) {
	obj := map[string]any{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	delete(obj, "status")
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return json.Marshal(obj)
}

// sortedWriter writes encoding/json output again with every object's keys in sorted order,
// leaving out status and metadata.creationTimestamp. Its buffers are reused.
type sortedWriter struct {
	out     []byte
	members [][]member // per depth, reused
}

type member struct {
	key        string // the key without quotes; never needs unescaping (see object)
	start, end int    // the value's bytes in the input
}

var writerPool = sync.Pool{New: func() any { return &sortedWriter{} }}

// value writes the JSON value starting at in[i] and returns the index after it. depth is 0 for
// the object itself; metadata tells that the value is the object's metadata. ok is false when
// the value cannot be written as the round trip would write it.
func (w *sortedWriter) value(in []byte, i, depth int, metadata bool) (int, bool) {
	if i >= len(in) {
		return i, false
	}
	switch c := in[i]; {
	case c == '{':
		return w.object(in, i, depth, metadata)
	case c == '[':
		w.out = append(w.out, '[')
		i++
		for first := true; ; first = false {
			if i >= len(in) {
				return i, false
			}
			if in[i] == ']' {
				w.out = append(w.out, ']')
				return i + 1, true
			}
			if !first {
				if in[i] != ',' {
					return i, false
				}
				w.out = append(w.out, ',')
				i++
			}
			var ok bool
			if i, ok = w.value(in, i, depth+1, false); !ok {
				return i, false
			}
		}
	case c == '"':
		end, escaped, ok := stringEnd(in, i)
		if !ok {
			return end, false
		}
		if !escaped {
			w.out = append(w.out, in[i:end]...)
			return end, true
		}
		// The round trip decodes the string and encodes it again; so does this.
		var s string
		if err := json.Unmarshal(in[i:end], &s); err != nil {
			return end, false
		}
		enc, err := json.Marshal(s)
		if err != nil {
			return end, false
		}
		w.out = append(w.out, enc...)
		return end, true
	case c == '-' || c >= '0' && c <= '9':
		end := numberEnd(in, i)
		// The round trip makes every number a float64. Integers of up to 15 digits come out
		// as they went in; anything else is left to the round trip itself.
		digits := end - i
		if c == '-' {
			digits--
		}
		if digits < 1 || digits > 15 {
			return end, false
		}
		for _, d := range in[i:end] {
			if d != '-' && (d < '0' || d > '9') {
				return end, false
			}
		}
		w.out = append(w.out, in[i:end]...)
		return end, true
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(in[i:], []byte(lit)) {
				w.out = append(w.out, lit...)
				return i + len(lit), true
			}
		}
		return i, false
	}
}

// object writes the object at in[i] with its keys sorted.
func (w *sortedWriter) object(in []byte, i, depth int, metadata bool) (int, bool) {
	for len(w.members) <= depth {
		w.members = append(w.members, nil)
	}
	ms := w.members[depth][:0]
	defer func() { w.members[depth] = ms[:0] }()
	i++ // '{'
	for first := true; ; first = false {
		if i >= len(in) {
			return i, false
		}
		if in[i] == '}' {
			i++
			break
		}
		if !first {
			if in[i] != ',' {
				return i, false
			}
			i++
		}
		if i >= len(in) || in[i] != '"' {
			return i, false
		}
		kend, escaped, ok := stringEnd(in, i)
		if !ok || escaped {
			// The round trip sorts decoded keys; a key with escapes may sort differently.
			return kend, false
		}
		key := string(in[i+1 : kend-1])
		if kend >= len(in) || in[kend] != ':' {
			return kend, false
		}
		vstart := kend + 1
		vend, ok := skipValue(in, vstart)
		if !ok {
			return vend, false
		}
		if !(depth == 0 && key == "status") && !(metadata && key == "creationTimestamp") {
			ms = append(ms, member{key: key, start: vstart, end: vend})
		}
		i = vend
	}
	slices.SortFunc(ms, func(a, b member) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	w.out = append(w.out, '{')
	for n, m := range ms {
		if n > 0 {
			w.out = append(w.out, ',')
		}
		w.out = append(w.out, '"')
		w.out = append(w.out, m.key...)
		w.out = append(w.out, '"', ':')
		if _, ok := w.value(in[:m.end], m.start, depth+1, depth == 0 && m.key == "metadata"); !ok {
			return i, false
		}
	}
	w.out = append(w.out, '}')
	return i, true
}

// stringEnd returns the index after the string literal at in[i] and whether it has escapes.
func stringEnd(in []byte, i int) (int, bool, bool) {
	escaped := false
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, true
		}
	}
	return len(in), escaped, false
}

func numberEnd(in []byte, i int) int {
	for i < len(in) {
		switch c := in[i]; {
		case c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index after the value at in[i] (encoding/json's compact output).
func skipValue(in []byte, i int) (int, bool) {
	depth := 0
	for i < len(in) {
		switch c := in[i]; c {
		case '"':
			end, _, ok := stringEnd(in, i)
			if !ok {
				return end, false
			}
			i = end
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		default:
			if depth == 0 {
				if c == ',' {
					return i, false
				}
				j := i
				for j < len(in) && in[j] != ',' && in[j] != '}' && in[j] != ']' {
					j++
				}
				return j, true
			}
			i++
		}
		if depth == 0 {
			return i, true
		}
		if depth < 0 {
			return i, false
		}
	}
	return i, false
}
