package web

import (
	"net/http"
	"strconv"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
	"golang.org/x/text/number"
)

// The languages of the pages, the first the default. British English
// differs from American English only in how dates and times are written.
var supported = []language.Tag{language.AmericanEnglish, language.BritishEnglish, language.German}

var matcher = language.NewMatcher(supported)

// langChoices are the languages offered in the switch, by cookie value.
var langChoices = []struct{ Code, Name string }{{"en", "English"}, {"de", "Deutsch"}}

// langCookie remembers a language chosen with the switch. It says nothing
// about the user, so it outlives the session.
const langCookie = "__Host-dissent-lang"

// newCatalog builds the message catalog: English is the key itself unless
// an entry in english says otherwise; German comes from german; plurals
// from plurals. Every key must have a German entry (a test checks that
// every key the pages use is here).
func newCatalog() (*catalog.Builder, error) {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for key, de := range german {
		en := key
		if v, ok := english[key]; ok {
			en = v
		}
		if err := b.SetString(language.English, key, en); err != nil {
			return nil, err
		}
		if err := b.SetString(language.German, key, de); err != nil {
			return nil, err
		}
	}
	for key, v := range british {
		if err := b.SetString(language.BritishEnglish, key, v); err != nil {
			return nil, err
		}
	}
	for key, forms := range plurals {
		if err := b.Set(language.English, key, plural.Selectf(1, "%d", "=1", forms[0], "other", forms[1])); err != nil {
			return nil, err
		}
		if err := b.Set(language.German, key, plural.Selectf(1, "%d", "=1", forms[2], "other", forms[3])); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// locale is one request's language and the office's time zone, in which
// every date and time is shown.
type locale struct {
	tag  language.Tag
	code string // the switch's cookie value: "en" or "de"
	p    *message.Printer
	loc  *time.Location
}

// chooseLocale picks the language from the switch's cookie, else from
// Accept-Language.
func (h *handler) chooseLocale(r *http.Request) *locale {
	var accepted []language.Tag
	if al, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil && len(al) <= 32 {
		accepted = al
	}
	_, i, _ := matcher.Match(accepted...)
	tag := supported[i]
	if c, err := r.Cookie(langCookie); err == nil {
		if t, err := language.Parse(c.Value); err == nil {
			// The switch names a language; the browser may still say which
			// English (dates are written differently in Britain).
			if _, j, _ := matcher.Match(t); base(supported[j]) != base(tag) {
				tag = supported[j]
			}
		}
	}
	code := "en"
	if base(tag) == "de" {
		code = "de"
	}
	return &locale{tag: tag, code: code, p: message.NewPrinter(tag, message.Catalog(h.cat)), loc: h.loc}
}

func base(t language.Tag) string {
	b, _ := t.Base()
	return b.String()
}

// Lang is the page's language for the lang attribute.
func (l *locale) Lang() string { return l.tag.String() }

// T translates key, formatting args into it.
func (l *locale) T(key string, args ...any) string { return l.p.Sprintf(key, args...) }

var monthKeys = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

var weekdayKeys = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// Date writes the day of t in the office's zone: "Monday, March 2, 2026".
func (l *locale) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(l.loc)
	return l.T("date.long", l.T(weekdayKeys[t.Weekday()]), t.Day(), l.T(monthKeys[t.Month()-1]), strconv.Itoa(t.Year()))
}

// ShortDate writes the day of t without the weekday: "March 2, 2026".
func (l *locale) ShortDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(l.loc)
	return l.T("date.short", t.Day(), l.T(monthKeys[t.Month()-1]), strconv.Itoa(t.Year()))
}

// DateTime writes t in the office's zone: "March 2, 2026, 10:00 AM EST".
func (l *locale) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.T("datetime", l.ShortDate(t), t.In(l.loc).Format(l.T("time.layout")))
}

// ISO writes t for a machine-readable datetime attribute.
func (l *locale) ISO(t time.Time) string { return t.In(l.loc).Format(time.RFC3339) }

// Percent writes a share such as 0.833 as the locale writes 83.3 per cent.
func (l *locale) Percent(p float64) string {
	return l.p.Sprint(number.Percent(p, number.MaxFractionDigits(1)))
}

// Num writes n with the locale's digit grouping.
func (l *locale) Num(n int64) string { return l.p.Sprint(n) }

// LangCode is the switch's value for this language.
func (l *locale) LangCode() string { return l.code }
