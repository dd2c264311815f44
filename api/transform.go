package api

import (
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/logging"
)

// transform runs on every response body: problems get the request ID, and nil slices anywhere in the
// body become empty ones, so lists are always [] and never null (encoding/json writes nil as null).
func transform(hctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*Problem); ok {
		if p.RequestID == "" {
			cp := *p // the handler's error value may be shared; never change it
			cp.RequestID = logging.RequestID(hctx.Context())
			return &cp, nil
		}
		return p, nil
	}
	return emptySlices(v), nil
}

// emptySlices returns v with every nil slice reachable through structs, pointers, slices and maps
// replaced by an empty one. It copies only when it finds a nil slice.
func emptySlices(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !hasNilSlice(rv, 0) {
		return v
	}
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	fill(cp, 0)
	return cp.Interface()
}

// maxDepth bounds the walk through self-referential types.
const maxDepth = 32

func hasNilSlice(v reflect.Value, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasNilSlice(v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && hasNilSlice(v.Field(i), depth+1) {
				return true
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return v.Type().Elem().Kind() != reflect.Uint8 // []byte is base64 in JSON, not a list
		}
		for i := range v.Len() {
			if hasNilSlice(v.Index(i), depth+1) {
				return true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if hasNilSlice(it.Value(), depth+1) {
				return true
			}
		}
	}
	return false
}

// fill replaces nil slices in the settable value v. Pointed-to values are shared with the handler's
// result, so they are copied before being changed.
func fill(v reflect.Value, depth int) {
	if depth > maxDepth {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || !hasNilSlice(v.Elem(), depth+1) {
			return
		}
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		fill(cp.Elem(), depth+1)
		v.Set(cp)
	case reflect.Interface:
		if v.IsNil() || !hasNilSlice(v.Elem(), depth+1) {
			return
		}
		cp := reflect.New(v.Elem().Type()).Elem()
		cp.Set(v.Elem())
		fill(cp, depth+1)
		v.Set(cp)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.Type().Elem().Kind() != reflect.Uint8 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		if !hasNilSlice(v, depth) {
			return
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		for i := range cp.Len() {
			fill(cp.Index(i), depth+1)
		}
		v.Set(cp)
	case reflect.Map:
		if v.IsNil() || !hasNilSlice(v, depth) {
			return
		}
		cp := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			val := reflect.New(it.Value().Type()).Elem()
			val.Set(it.Value())
			fill(val, depth+1)
			cp.SetMapIndex(it.Key(), val)
		}
		v.Set(cp)
	}
}
