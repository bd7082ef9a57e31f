package applycheck

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Holds reports whether live holds every field of desired's apply body with the same value:
// everything desired's JSON carries, except status and metadata.creationTimestamp, is in live's
// JSON. Objects may have fields desired does not set (defaults, others' fields) and map entries
// desired does not name; lists must have the same length and hold desired's items in order.
// TypeMeta is not compared: both are of one Go type, read for one kind.
//
// It walks the two typed objects by encoding/json's rules (names, omitempty, omitzero, inlined
// structs, JSON marshalers) instead of converting both to maps, which allocated for every child
// and reconcile. live and desired must be pointers to structs of the same type.
func Holds(live, desired any) bool {
	h, w := reflect.ValueOf(live), reflect.ValueOf(desired)
	if !h.IsValid() || !w.IsValid() || h.Type() != w.Type() || h.Kind() != reflect.Pointer || h.Elem().Kind() != reflect.Struct {
		return false
	}
	if h.IsNil() || w.IsNil() {
		return h.IsNil() == w.IsNil()
	}
	return holdsStruct(h.Elem(), w.Elem(), topLevel)
}

// level tells which fields of a struct the apply body leaves out.
type level int

const (
	nested   level = iota
	topLevel       // the object: no status
	metadata       // its metadata: no creationTimestamp
)

var (
	intOrString = reflect.TypeFor[intstr.IntOrString]()
	stringMap   = reflect.TypeFor[map[string]string]()
)

// asIntOrString reads v without copying it to the heap when it can (a port's targetPort).
func asIntOrString(v reflect.Value) *intstr.IntOrString {
	if v.CanAddr() {
		return v.Addr().Interface().(*intstr.IntOrString)
	}
	i := v.Interface().(intstr.IntOrString)
	return &i
}

// holdsStrings is holds for labels, annotations, selectors and ConfigMap data, without
// reflection.
func holdsStrings(have, want map[string]string) bool {
	switch {
	case want == nil:
		return have == nil
	case have == nil:
		return len(want) == 0
	}
	for k, w := range want {
		if h, ok := have[k]; !ok || h != w {
			return false
		}
	}
	return true
}

// holds compares two values of one type as JSON: want's JSON is contained in have's. Values
// of basic kinds are compared as values: equal values write equal JSON, even through a
// marshaler of their own.
func holds(have, want reflect.Value) bool {
	t := want.Type()
	switch k := want.Kind(); {
	case t == intOrString:
		h, w := asIntOrString(have), asIntOrString(want)
		if h.Type != w.Type {
			return false
		}
		if w.Type == intstr.Int {
			return h.IntVal == w.IntVal
		}
		return h.StrVal == w.StrVal
	case t == stringMap:
		return holdsStrings(have.Interface().(map[string]string), want.Interface().(map[string]string))
	case k == reflect.Struct || k == reflect.Map || k == reflect.Slice || k == reflect.Array:
		if marshals(t) {
			return bytes.Equal(marshal(have), marshal(want))
		}
	}
	switch want.Kind() {
	case reflect.Pointer:
		switch {
		case want.IsNil():
			return have.IsNil() // null is only held by null
		case have.IsNil():
			return absentHolds(want.Elem())
		}
		return holds(have.Elem(), want.Elem())
	case reflect.Interface:
		switch {
		case want.IsNil():
			return have.IsNil()
		case have.IsNil():
			return absentHolds(want.Elem())
		case have.Elem().Type() != want.Elem().Type():
			return bytes.Equal(marshal(have), marshal(want))
		}
		return holds(have.Elem(), want.Elem())
	case reflect.Struct:
		return holdsStruct(have, want, nested)
	case reflect.Map:
		switch {
		case want.IsNil():
			return have.IsNil()
		case have.IsNil():
			return want.Len() == 0
		}
		for it := want.MapRange(); it.Next(); {
			hv := have.MapIndex(it.Key())
			if !hv.IsValid() {
				if !absentHolds(it.Value()) {
					return false
				}
				continue
			}
			if !holds(hv, it.Value()) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !marshals(t.Elem()) { // base64 text
			if want.IsNil() {
				return have.IsNil()
			}
			return !have.IsNil() && bytes.Equal(have.Bytes(), want.Bytes())
		}
		if want.IsNil() {
			return have.IsNil()
		}
		fallthrough
	case reflect.Array:
		if have.Len() != want.Len() {
			return false
		}
		for i := range want.Len() {
			if !holds(have.Index(i), want.Index(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return have.String() == want.String()
	case reflect.Bool:
		return have.Bool() == want.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return have.Int() == want.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return have.Uint() == want.Uint()
	case reflect.Float32, reflect.Float64:
		return have.Float() == want.Float()
	}
	return reflect.DeepEqual(have.Interface(), want.Interface())
}

// holdsStruct compares the JSON objects two structs of one type encode to.
func holdsStruct(have, want reflect.Value, lvl level) bool {
	for _, f := range fieldsOf(want.Type()) {
		if lvl == topLevel && (f.typeMeta || f.name == "status") || lvl == metadata && f.name == "creationTimestamp" {
			continue
		}
		wv, wok := f.value(want)
		if !wok || f.omitted(wv) {
			continue // not in desired's JSON
		}
		hv, hok := f.value(have)
		if f.inline {
			if !hok && !membersAbsentHold(wv) || hok && !holdsStruct(hv, wv, nested) {
				return false
			}
			continue
		}
		if !hok || f.omitted(hv) {
			if !absentHolds(wv) {
				return false
			}
			continue
		}
		if lvl == topLevel && f.name == "metadata" {
			if !holdsStruct(hv, wv, metadata) { // ObjectMeta, less creationTimestamp
				return false
			}
		} else if !holds(hv, wv) {
			return false
		}
	}
	return true
}

// absentHolds reports whether want's JSON is held where have has nothing: only null, an empty
// object or an empty list are.
func absentHolds(want reflect.Value) bool {
	t := want.Type()
	if t == intOrString {
		return false
	}
	if marshals(t) {
		switch string(marshal(want)) {
		case "null", "{}", "[]":
			return true
		}
		return false
	}
	switch want.Kind() {
	case reflect.Pointer, reflect.Interface:
		return want.IsNil() || absentHolds(want.Elem())
	case reflect.Map, reflect.Slice:
		return want.Len() == 0
	case reflect.Struct: // an object: only an empty one
		for _, f := range fieldsOf(t) {
			wv, ok := f.value(want)
			if !ok || f.omitted(wv) {
				continue
			}
			if !f.inline || !absentHolds(wv) {
				return false
			}
		}
		return true
	}
	return false
}

// membersAbsentHold reports whether an inlined struct's members are held where have has none
// of them (its embedded pointer is nil): each member on its own.
func membersAbsentHold(want reflect.Value) bool {
	for _, f := range fieldsOf(want.Type()) {
		wv, ok := f.value(want)
		if !ok || f.omitted(wv) {
			continue
		}
		if f.inline && !membersAbsentHold(wv) || !f.inline && !absentHolds(wv) {
			return false
		}
	}
	return true
}

// field is one JSON member of a struct type, as encoding/json names and omits it.
type field struct {
	index     int
	name      string
	omitEmpty bool
	omitZero  bool
	inline    bool // an embedded struct without a name: its fields are the parent's
	typeMeta  bool // the inlined TypeMeta, which the comparison leaves to the caller
}

// value returns the field of v; ok is false for an inlined struct behind a nil pointer (its
// members are then absent from the JSON).
func (f field) value(v reflect.Value) (reflect.Value, bool) {
	v = v.Field(f.index)
	if f.inline && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	return v, true
}

func (f field) omitted(v reflect.Value) bool {
	if f.omitZero {
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
			if v.Kind() != reflect.Pointer || !v.IsNil() {
				return z.IsZero()
			}
		}
		if v.IsZero() {
			return true
		}
	}
	if !f.omitEmpty {
		return false
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

var fieldCache sync.Map // reflect.Type -> []field

// fieldsOf lists t's JSON members in declaration order. Embedded structs without a JSON name
// are listed as one inline member; their own members are compared by recursion.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			fs = append(fs, field{index: i, inline: true, typeMeta: ft.Name() == "TypeMeta"})
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := field{index: i, name: name}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			case "inline":
				// k8s marks embedded structs with ",inline"; encoding/json inlines them anyway
			}
		}
		fs = append(fs, f)
	}
	fieldCache.Store(t, fs)
	return fs
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// marshals tells whether values of t write their own JSON.
func marshals(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		return false // a pointer's element is asked
	}
	if m, ok := marshalCache.Load(t); ok {
		return m.(bool)
	}
	p := reflect.PointerTo(t)
	m := t.Implements(jsonMarshaler) || p.Implements(jsonMarshaler) || t.Implements(textMarshaler) || p.Implements(textMarshaler)
	marshalCache.Store(t, m)
	return m
}

var marshalCache sync.Map // reflect.Type -> bool

// marshal is v's JSON; v may be unaddressable, so it is copied into a new value first.
func marshal(v reflect.Value) []byte {
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	b, err := json.Marshal(p.Interface())
	if err != nil {
		return nil
	}
	return b
}
