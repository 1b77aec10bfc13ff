// Package notify writes and sends the channel's e-mail: short notices that
// something in Dissent needs attention, over SMTP with STARTTLS.
//
// A notice says what kind of thing waits, its deadline and where to sign in
// to see it. It must never carry a memo's title, body, authors or marking,
// and this package is never given them: it composes from a notification's
// kind, deadline and memo id alone, so a mail server, a forwarded message or
// a shoulder-surfer learns only that something needs attention.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Notice is what an e-mail is about: one notification.
type Notice struct {
	ID     string // the notification's id; the Message-ID is made from it
	To     string
	Kind   string
	MemoID string    // for the link; empty for notices about no memo
	DueAt  time.Time // zero when the notice has no deadline
}

// Site is what messages say about the deployment.
type Site struct {
	// BaseURL is where people sign in, e.g. "https://dissent.example.gov/";
	// links are made from it.
	BaseURL string
	// Location is the office's time zone, in which deadlines are written.
	Location *time.Location
}

// Message is one e-mail, ready to send.
type Message struct {
	MessageID string // without angle brackets
	To        string
	Subject   string
	Body      string
	Date      time.Time
}

// ErrHeader is returned for a message whose header fields would break the
// message's structure (a line break in an address or subject).
var ErrHeader = errors.New("notify: header field holds a line break")

// texts are a subject and an opening sentence per kind; %s is the deadline.
var texts = map[string]struct{ subject, lead string }{
	"memo.received":        {"a new memo to acknowledge by %s", "A memo has arrived for the channel office. It must be acknowledged by %s."},
	"memo.distributed":     {"a memo has been distributed to you", "A memo has been distributed to you to read."},
	"remind.acknowledge":   {"a memo is due for acknowledgement by %s", "Reminder: a memo must be acknowledged by %s."},
	"remind.reply":         {"a substantive reply is due by %s", "Reminder: a memo's substantive reply is due by %s."},
	"remind.reply_latest":  {"a reply is due at the latest by %s", "Reminder: a memo's substantive reply must be sent at the latest by %s."},
	"overdue.acknowledge":  {"a memo's acknowledgement is overdue", "A memo was due to be acknowledged by %s and has not been."},
	"overdue.reply":        {"a memo's substantive reply is overdue", "A memo's substantive reply was due by %s and has not been sent."},
	"overdue.reply_latest": {"a memo is past its latest reply date", "A memo's substantive reply was due at the latest by %s and has not been sent."},
	"memo.appealed":        {"an appeal to decide by %s", "The authors of a memo have appealed the channel office's reply. The decision on appeal is due by %s."},
	"memo.message":         {"the authors of a memo wrote to the office", "The authors of a memo have written to the channel office. Their message is on the memo's page."},
	"remind.appeal_reply":  {"a decision on appeal is due by %s", "Reminder: a decision on a memo's appeal is due by %s."},
	"overdue.appeal_reply": {"a decision on appeal is overdue", "A decision on a memo's appeal was due by %s and has not been given."},
	// Account notices: if the person did not do or ask for this, someone
	// may be taking their account over.
	"account.created":        {"an account was made for you", "An administrator made an account for you in Dissent, the organisation's dissent channel, and will give you its first password. When you first sign in with it, you are asked to choose a password of your own: that makes the keys that protect your memos, and only you know it. If you are not asked, or the password you were given does not work, someone signed in before you: tell the channel office and your inspector general, and do not use the account."},
	"account.keys_made":      {"your account's keys were made", "The keys of your Dissent account were made just now, when a password of its own was chosen at its first sign-in. If that was not you, or you have not signed in yet, someone signed in before you and holds those keys: tell the channel office and your inspector general now, and do not use the account."},
	"account.password_reset": {"your password was reset", "An administrator reset the password of your Dissent account. If you did not ask for this, tell the channel office and your inspector general now: someone may be taking your account over."},
	"account.new_keys":       {"keys were made for your account", "New keys were made for your Dissent account after a password reset, under a password chosen at sign-in. If that was not you, tell the channel office and your inspector general now: someone may be taking your account over."},
	"account.email_changed":  {"your e-mail address was changed", "The e-mail address of your Dissent account was changed; this notice goes to the old address. If you did not ask for this, tell the channel office and your inspector general now."},
	"keys.awaiting":          {"keys await the office's confirmation", "An account of Dissent has keys that await the channel office's confirmation: new keys after a password reset, a recovery or a repair, or a principal's keys on the standing distribution. Nobody shares memos with them until a member of the channel office confirms them with the person: see Office, Members."},
	"keys.confirmed":         {"the channel office confirmed your keys", "A member of the channel office confirmed the keys of your Dissent account: memos and invitations are shared with you. If you did not make these keys yourself, tell your inspector general now."},
	"keys.recovered":         {"your keys were restored", "The recovery custodians restored the keys of your Dissent account, under the password typed at the ceremony. If you did not take part, tell the channel office and your inspector general now."},
}

// Compose writes the e-mail for n at now. Unknown kinds get a general
// notice, so that a new kind is never mailed with more than this says.
func Compose(n Notice, site Site, now time.Time) (*Message, error) {
	if strings.ContainsAny(n.To, "\r\n") {
		return nil, ErrHeader
	}
	loc := site.Location
	if loc == nil {
		loc = time.UTC
	}
	short, long := "", ""
	if !n.DueAt.IsZero() {
		d := n.DueAt.In(loc)
		short = d.Format("Mon 2 Jan 15:04 MST")
		long = d.Format("Monday 2 January 2006, 15:04 MST")
	}
	t, ok := texts[n.Kind]
	if !ok || (long == "" && strings.Contains(t.lead, "%s")) {
		t = struct{ subject, lead string }{"something needs your attention", "Something in Dissent needs your attention."}
	}
	subject, lead := t.subject, t.lead
	if strings.Contains(subject, "%s") {
		subject = fmt.Sprintf(subject, short)
	}
	if strings.Contains(lead, "%s") {
		lead = fmt.Sprintf(lead, long)
	}
	var b strings.Builder
	b.WriteString(lead + "\n\n")
	if link := Link(site.BaseURL, n.MemoID); link != "" {
		b.WriteString("Sign in to see it:\n" + link + "\n\n")
	} else {
		b.WriteString("Sign in to Dissent to see it.\n\n")
	}
	b.WriteString("This notice says only that something needs your attention. By design it carries\n" +
		"no title, text, author or marking: you see those after signing in.\n" +
		"Please do not reply to this message.\n")
	return &Message{MessageID: n.ID + "@" + host(site.BaseURL), To: n.To, Subject: "Dissent: " + subject, Body: b.String(), Date: now}, nil
}

// Link is the page of memoID under baseURL, or the sign-in page when
// memoID is empty; "" without a base URL.
func Link(baseURL, memoID string) string {
	if baseURL == "" {
		return ""
	}
	link := strings.TrimSuffix(baseURL, "/") + "/"
	if memoID != "" {
		link += "memos/" + url.PathEscape(memoID)
	}
	return link
}

func host(baseURL string) string {
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "dissent.invalid"
}

// Bytes encodes m as an RFC 5322 message from the given address, with CRLF
// line ends. The body is plain ASCII text or UTF-8.
func (m *Message) Bytes(from string) ([]byte, error) {
	for _, v := range []string{from, m.To, m.Subject, m.MessageID} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, ErrHeader
		}
	}
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", m.To)
	h("Subject", m.Subject)
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+m.MessageID+">")
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String()), nil
}
