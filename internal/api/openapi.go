package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
)

// OpenAPI returns the OpenAPI 3.1 description of the API, generated from
// the same route table that registers the handlers.
func OpenAPI() map[string]any {
	paths := map[string]any{}
	schemas := map[string]any{
		"Problem": schemaOf(reflect.TypeFor[Problem](), nil),
	}
	for _, rt := range routes() {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"responses":   responses(rt, schemas),
		}
		var params []any
		for _, name := range pathParams.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": name[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			typ := "string"
			if q.integer {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": q.required, "description": q.desc, "schema": map[string]any{"type": typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": ref(reflect.TypeOf(rt.request), schemas)}}}
		}
		if rt.auth {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	for _, op := range plainOperations {
		paths[op.path] = map[string]any{"get": map[string]any{
			"summary":     op.summary,
			"operationId": op.id,
			"responses": map[string]any{"200": map[string]any{"description": "success",
				"content": map[string]any{op.contentType: map[string]any{"schema": map[string]any{"type": op.schema}}}}},
		}}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Dissent JSON API",
			"version":     "1",
			"description": "A secure internal dissent channel. Errors are RFC 9457 problem documents; a memo you may not see answers 404, like one that does not exist.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

// plainOperations are the routes outside the route table: this document,
// and the health and metrics endpoints that server.Handler mounts beside
// the API, GETs without a session (the metrics ask for a token of their
// own, server.metrics_token).
var plainOperations = []struct{ path, id, summary, contentType, schema string }{
	{"/api/v1/openapi.json", "getOpenapi", "This document", "application/json", "object"},
	{"/healthz", "getHealthz", "Alive", "text/plain", "string"},
	{"/readyz", "getReadyz", "Ready: the database answers (503 when it does not)", "text/plain", "string"},
	{"/metrics", "getMetrics", "Prometheus metrics, to the bearer of the deployment's server.metrics_token (403 when it has none)", "text/plain", "string"},
}

var pathParams = regexp.MustCompile(`\{(\w+)\}`)

func operationID(rt route) string {
	id := strings.ToLower(rt.method)
	for _, part := range strings.Split(strings.TrimPrefix(rt.path, "/api/v1/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.ReplaceAll(part, "-", "")
		if part != "" {
			id += strings.ToUpper(part[:1]) + part[1:]
		}
	}
	return id
}

func responses(rt route, schemas map[string]any) map[string]any {
	problem := map[string]any{"description": "a problem", "content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	out := map[string]any{"default": problem}
	ok := map[string]any{"description": "success"}
	switch {
	case rt.response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(reflect.TypeOf(rt.response), schemas)}}
	case rt.status == 200:
		ok["content"] = map[string]any{cmp.Or(rt.contentType, "text/plain"): map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	out[strconv.Itoa(rt.status)] = ok
	return out
}

// ref returns a $ref to a named struct schema (adding it to schemas) or an
// inline schema for anything else.
func ref(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]() && t.Name() != "" {
		name := schemaName(t)
		if owner, ok := schemaTypes.LoadOrStore(name, t); ok && owner != t {
			panic(fmt.Sprintf("api: the OpenAPI schema %s names two types, %v and %v", name, owner, t))
		}
		if _, ok := schemas[name]; !ok {
			schemas[name] = nil // reserve against recursion
			schemas[name] = schemaOf(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return schemaOf(t, schemas)
}

// schemaName names a struct's schema after its Go type, capitalised: a
// request and its answer (signInRequest, signInResponse) keep their
// suffixes, so that neither's $ref points at the other.
func schemaName(t reflect.Type) string {
	n := t.Name()
	return strings.ToUpper(n[:1]) + n[1:]
}

// schemaTypes remembers which Go type each schema name was made for.
var schemaTypes sync.Map

func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[service.Count]():
		// A number, "<5", or "suppressed".
		return map[string]any{"oneOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{} // any JSON value: an embedded document (a receipt)
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": childSchema(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": childSchema(t.Elem(), schemas)}
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = childSchema(f.Type, schemas)
			// A pointer or slice without omitempty is written as null
			// when it is nil (a draft's receipt, an unsigned author's
			// signed revision).
			if k := f.Type.Kind(); (k == reflect.Pointer || k == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 || k == reflect.Map) && !strings.Contains(tag, "omitempty") && !strings.Contains(tag, "omitzero") {
				props[name] = map[string]any{"oneOf": []any{props[name], map[string]any{"type": "null"}}}
			}
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

func childSchema(t reflect.Type, schemas map[string]any) map[string]any {
	if schemas == nil {
		return schemaOf(t, nil)
	}
	return ref(t, schemas)
}
