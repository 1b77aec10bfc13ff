package channel

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in the api package and to
// one exit status in the CLI; everything else is an internal error whose text
// is never shown to a client.
const (
	EMALFORMED    = "malformed"    // the request cannot be parsed (400)
	EUNAUTHORIZED = "unauthorized" // not signed in (401)
	EFORBIDDEN    = "forbidden"    // signed in, but the role may never do this (403)
	ENOTFOUND     = "not_found"    // no such thing, or no right to know it exists (404)
	ECONFLICT     = "conflict"     // wrong state or stale revision (409)
	ETOOLARGE     = "too_large"    // over a size limit (413)
	EINVALID      = "invalid"      // well-formed input that breaks a rule (422)
	ERATELIMIT    = "rate_limited" // too many attempts (429)
	EINTERNAL     = "internal"     // anything else (500)
	EUNAVAILABLE  = "unavailable"  // a dependency is down (503)
)

// Error is an error a user is allowed to see: a code, a message written for
// people, and optional per-field messages.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, for ERATELIMIT, is how long until an attempt would be
	// let through (0: not known).
	RetryAfter time.Duration
}

// FieldError names the input field that broke a rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("channel: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RateLimited returns an ERATELIMIT error whose message ends by saying
// when to try again: after wait, rounded up to a minute.
func RateLimited(wait time.Duration, format string, args ...any) *Error {
	minutes := int((wait + time.Minute - 1) / time.Minute)
	when := "in a minute"
	if minutes > 1 {
		when = fmt.Sprintf("in %d minutes", minutes)
	}
	return &Error{Code: ERATELIMIT, Message: fmt.Sprintf(format, args...) + ": try again " + when, RetryAfter: wait}
}

// RetryAfterSeconds returns how long err asks to wait before trying again,
// in whole seconds rounded up (HTTP's Retry-After), or 0.
func RetryAfterSeconds(err error) int {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return int((e.RetryAfter + time.Second - 1) / time.Second)
	}
	return 0
}

// Invalid returns an EINVALID error for one field.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// ErrNotFound is the single answer for "does not exist" and "you may not know
// it exists": callers must not be able to tell the two apart.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}

// ErrorCode returns the code of err, or EINTERNAL if err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the user-visible message of err; internal errors are
// reported as "internal error" so that nothing about the system leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
