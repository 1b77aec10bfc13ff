package channel

import (
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what people may type. The body limit is configurable; the others
// are fixed because nothing sensible is longer.
const (
	MaxTitle       = 200
	MaxDisplayName = 100
	MaxReason      = 4000
	MaxComment     = 64 << 10
	MaxPassword    = 1024
	MinPassword    = 10
	MaxUsernames   = 200 // co-drafters, signers or readers named in one call
	DefaultMaxBody = 1 << 20
	// DefaultSignInsPerAddress is how many failed sign-ins an hour one
	// address is allowed from devices new to the accounts they try: a
	// hundred people behind one office's network address each mistyping
	// a password, or one guesser trying a hundred accounts.
	DefaultSignInsPerAddress = 100
)

// Limits on what one memo holds, so that no account can make every opening
// of a memo slower and hungrier without bound: each opening decrypts the
// roster and every message and comment, and the history page compares
// revisions. None is near what a real case needs (the largest dissent cable
// known had about a thousand signatures).
const (
	MaxAuthors = 2000 // drafters and signers
	// MaxRevisions is high: the web's editor saves a revision each time
	// the drafter pauses (autosave), some hundreds in a long day.
	MaxRevisions = 10_000
	// MaxThread is how many messages, or comments, a memo takes from its
	// authors and readers; the office may add as many again, so that a
	// memo filled by one side still takes the office's answer.
	MaxThread = 1000
)

// Role is what a user may do in the channel.
type Role string

// The roles of API.md.
const (
	RoleMember    Role = "member"
	RoleOffice    Role = "office"
	RolePrincipal Role = "principal"
	RoleAuditor   Role = "auditor"
	RoleAdmin     Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleMember, RoleOffice, RolePrincipal, RoleAuditor, RoleAdmin}

// ValidateUsername accepts 2 to 64 characters of lower-case letters, digits,
// dot, dash and underscore, starting with a letter or digit.
func ValidateUsername(field, s string) error {
	if len(s) < 2 || len(s) > 64 {
		return Invalid(field, "a username has 2 to 64 characters")
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '-' || r == '_')
		if !ok {
			return Invalid(field, "a username has only lower-case letters, digits, '.', '-' and '_', and starts with a letter or digit")
		}
	}
	return nil
}

// ValidateLine checks one line of text: valid UTF-8, no control characters,
// not blank, at most max characters.
func ValidateLine(field, s string, max int) error {
	if err := validateText(field, s, false); err != nil {
		return err
	}
	if blank(s) {
		return Invalid(field, "%s must not be empty", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Invalid(field, "%s is %d characters; the limit is %d", field, n, max)
	}
	return nil
}

// ValidateText checks multi-line text: valid UTF-8, no control characters
// but newlines and tabs, not blank, at most max bytes.
func ValidateText(field, s string, max int) error {
	if len(s) > max {
		return &Error{Code: ETOOLARGE, Message: field + " is too large", Fields: []FieldError{{field, "the limit is " + byteSize(max)}}}
	}
	if err := validateText(field, s, true); err != nil {
		return err
	}
	if blank(s) {
		return Invalid(field, "%s must not be empty", field)
	}
	return nil
}

func validateText(field, s string, multiline bool) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return Invalid(field, "%s contains a control character", field)
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return Invalid(field, "%s contains an invisible direction mark (U+%04X), which can make text read other than it is stored: remove it", field, r)
		}
	}
	return nil
}

// blank reports whether s shows nothing: only white space and characters
// that render invisibly (format characters such as the zero-width space,
// the word joiner and the byte order mark; Hangul fillers; variation
// selectors), so a reason, title or name made of them is empty. Such
// characters within visible text (the zero-width joiner of an emoji or of
// Persian script) are left alone.
func blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) {
			return false
		}
	}
	return true
}

// ValidateEmail accepts a bare address (no display name).
func ValidateEmail(field, s string) error {
	if err := ValidateLine(field, s, 254); err != nil {
		return err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return Invalid(field, "%q is not an e-mail address", s)
	}
	return nil
}

// ValidatePassword enforces length only: long passphrases beat rules.
func ValidatePassword(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "the password is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < MinPassword || len(s) > MaxPassword {
		return Invalid(field, "a password has %d to %d characters", MinPassword, MaxPassword)
	}
	return nil
}

// ValidateRoles checks a set of roles: at least one, all known, no repeats.
func ValidateRoles(field string, roles []Role) error {
	if len(roles) == 0 {
		return Invalid(field, "a user needs at least one role")
	}
	for i, r := range roles {
		if !slices.Contains(Roles, r) {
			return Invalid(field, "unknown role %q", r)
		}
		if slices.Contains(roles[:i], r) {
			return Invalid(field, "role %q is listed twice", r)
		}
	}
	// An administrator must never read a memo; a principal reads them, and
	// the channel office's key opens every one.
	if slices.Contains(roles, RoleAdmin) && slices.Contains(roles, RolePrincipal) {
		return Invalid(field, "an administrator cannot be a principal: administrators must never read a memo, so give the role to another account")
	}
	if slices.Contains(roles, RoleAdmin) && slices.Contains(roles, RoleMember) {
		return Invalid(field, "an administrator cannot be a member: a memo's co-authors read it and see who wrote it, and administrators must never, so an administrator files from another account")
	}
	if slices.Contains(roles, RoleAdmin) && slices.Contains(roles, RoleOffice) {
		return Invalid(field, "an administrator cannot be in the channel office: its key opens every memo, and administrators must never read one, so give the role to another account")
	}
	return nil
}

// ValidateUsernames checks a list of usernames named in one request.
func ValidateUsernames(field string, names []string, allowEmpty bool) error {
	if len(names) == 0 && !allowEmpty {
		return Invalid(field, "name at least one person")
	}
	if len(names) > MaxUsernames {
		return Invalid(field, "at most %d people at once", MaxUsernames)
	}
	for i, n := range names {
		if err := ValidateUsername(field, n); err != nil {
			return err
		}
		if slices.Contains(names[:i], n) {
			return Invalid(field, "%q is listed twice", n)
		}
	}
	return nil
}

// ValidateContent checks a memo's title, body and marking against the
// deployment's markings and body limit.
func ValidateContent(c Content, markings []string, maxBody int) error {
	if err := ValidateLine("title", c.Title, MaxTitle); err != nil {
		return err
	}
	if err := ValidateText("body", c.Body, maxBody); err != nil {
		return err
	}
	if !slices.Contains(markings, c.Marking) {
		return Invalid("marking", "marking must be one of %s", strings.Join(markings, ", "))
	}
	return nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// ValidID reports whether id is one the service could have made for a
// memo (or a mailbox entry, an item): 26 characters of lower-case base32,
// 128 random bits. Anything else is refused before it reaches a query, or
// a verifier's output.
func ValidID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
