package web

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// view is what the layout and a page render from. Title is the page's
// title: a fixed, translated name, never a memo's title.
type view struct {
	*visit
	Title string
	// Marking is the handling marking of the memo content on the page; the
	// layout shows it as a banner at the top and the bottom, and in print.
	Marking string
	Data    any
	// Autosave loads the small script that saves drafts while one types.
	Autosave bool

	version  string
	markings []string
	zone     string
	// publishes: the profile publishes closed cases (a menu entry);
	// appeals: its replies may be appealed.
	publishes, appeals, anonymous bool
	// unread is the bell's count, read when the page is rendered unless
	// the handler already has it; bellKnown is false when it could not be
	// read, and the bell then shows no number rather than a wrong one.
	unread    int
	bellKnown bool
}

func (h *handler) fill(ctx context.Context, v *visit, vw *view) {
	vw.visit = v
	vw.version = h.version
	vw.markings = h.svc.Config().Profile.Markings
	vw.publishes = h.svc.Config().Profile.Publish
	vw.appeals = h.svc.Config().Profile.Appeals()
	vw.anonymous = h.svc.Config().Profile.Anonymous
	vw.zone = h.loc.String()
	if v.actor != nil && !vw.bellKnown {
		n, err := h.svc.UnreadCount(ctx, v.actor)
		if err != nil {
			// The page matters more than its bell: show it without a count.
			h.log.Warn("web: unread count", "err", err)
		}
		vw.unread, vw.bellKnown = n, err == nil
	}
}

// Static is the address of a static file, versioned so that browsers
// may cache it.
func (vw *view) Static(name string) string { return "/static/" + name + "?v=" + vw.version }

// Flash is the translated notice left by the previous step.
func (vw *view) Flash() string {
	if vw.flash == "" {
		return ""
	}
	return vw.T(vw.flash)
}

// MarkingClass is the banner's colour class: the further down the
// profile's list, the stronger.
func (vw *view) MarkingClass() string {
	if i := slices.Index(vw.markings, vw.Marking); i >= 0 {
		return "marking-" + string(rune('0'+min(i, 3)))
	}
	return "marking-3"
}

// MarkingPage is the body class that prints the marking on every sheet
// (see markingsCSS), or "" for a marking the profile does not list.
func (vw *view) MarkingPage() string {
	if i := slices.Index(vw.markings, vw.Marking); i >= 0 {
		return "marked-" + strconv.Itoa(i)
	}
	return ""
}

// Markings are the deployment's handling markings.
func (vw *view) Markings() []string { return vw.markings }

// Zone names the office's time zone, in which times are shown.
func (vw *view) Zone() string { return vw.zone }

// Path is the current page's path, for the language switch.
func (vw *view) Path() string { return vw.path }

// Langs are the languages offered by the switch.
func (vw *view) Langs() []struct{ Code, Name string } { return langChoices }

// SignedIn reports whether someone is signed in.
func (vw *view) SignedIn() bool { return vw.actor != nil }

// UserName is the signed-in user's display name.
func (vw *view) UserName() string {
	if vw.actor == nil {
		return ""
	}
	return vw.actor.User.DisplayName
}

// KeysLocked reports whether the signed-in user's keys await recovery
// after an administrator reset their password.
func (vw *view) KeysLocked() bool { return vw.actor != nil && vw.actor.KeysLocked() }

// KeysPending reports whether the signed-in user's keys wait for them to
// choose their own password.
func (vw *view) KeysPending() bool { return vw.actor != nil && vw.actor.KeysPending() }

// BellCount is the number on the bell, or "" when there is none to show.
// Past 99 it says "99+": the badge has to stay small, and the page says
// the rest.
func (vw *view) BellCount() string {
	switch {
	case !vw.bellKnown || vw.unread == 0:
		return ""
	case vw.unread > 99:
		return vw.Num(99) + "+"
	}
	return vw.Num(int64(vw.unread))
}

// BellCurrent reports whether the page is the bell's own.
func (vw *view) BellCurrent() bool { return vw.path == "/notifications" }

// BellLabel names the bell for screen readers: "3 unread notifications".
func (vw *view) BellLabel() string {
	switch {
	case !vw.bellKnown:
		return vw.T("Notifications")
	case vw.unread == 0:
		return vw.T("No unread notifications")
	}
	return vw.T("%d unread notifications", vw.unread)
}

// Has reports whether the signed-in user holds role r.
func (vw *view) Has(r string) bool { return vw.actor != nil && vw.actor.Has(channel.Role(r)) }

type navLink struct {
	Href, Label string
	Current     bool
}

// Nav is the menu for the signed-in user's roles.
func (vw *view) Nav() []navLink {
	if vw.actor == nil {
		return nil
	}
	var out []navLink
	add := func(href, label string) {
		if slices.ContainsFunc(out, func(l navLink) bool { return l.Href == href }) {
			return
		}
		cur := vw.path == href || href != "/" && strings.HasPrefix(vw.path, href+"/") && !(href == "/memos" && vw.path == "/memos/new")
		out = append(out, navLink{Href: href, Label: vw.T(label), Current: cur})
	}
	if vw.Has("member") {
		add("/memos", "My memos")
		add("/memos/new", "New memo")
	}
	if vw.Has("office") {
		add("/office", "Office inbox")
		add("/office/members", "Office members")
	}
	if vw.Has("principal") {
		add("/reading-room", "Reading room")
	}
	if vw.Has("auditor") {
		add("/audit", "Ledger")
	}
	if vw.Has("admin") {
		add("/admin/users", "Users")
		add("/admin/distribution", "Distribution")
		add("/admin/policy", "Policy and calendar")
	}
	if vw.Has("auditor") || vw.Has("office") || vw.Has("admin") {
		add("/figures", "Figures")
	}
	if vw.publishes {
		add("/published", "Published cases")
	}
	add("/account", "Account")
	add("/help", "Help")
	return out
}

// answers is what the "answers" partial shows, on a memo's page and a
// published case's: the office's reply, the authors' appeal and the
// decision on it.
type answers struct {
	*view
	Reply  *service.Reply
	Appeal *service.Appeal
}

// Answers puts a reply and an appeal before the "answers" partial.
func (vw *view) Answers(r *service.Reply, a *service.Appeal) answers { return answers{vw, r, a} }

// Publishes, Appeals and AnonymousReports say what the channel's policy
// allows beyond a reply: publishing closed cases, appealing the reply,
// filing a report without a name.
func (vw *view) Publishes() bool        { return vw.publishes }
func (vw *view) Appeals() bool          { return vw.appeals }
func (vw *view) AnonymousReports() bool { return vw.anonymous }

// StateName is a memo state in words.
func (vw *view) StateName(s string) string { return vw.T(stateNames[s]) }

// RoleName is a role, or a way of being on a memo, in words.
func (vw *view) RoleName(s string) string {
	if k, ok := roleNames[s]; ok {
		return vw.T(k)
	}
	return s
}

// RuleText is a deadline rule in words: "2 working days".
func (vw *view) RuleText(r channel.Rule) string {
	switch r.Unit {
	case channel.Workdays:
		return vw.T("%d working days", r.N)
	case channel.Days:
		return vw.T("%d calendar days", r.N)
	case channel.Months:
		return vw.T("%d months", r.N)
	}
	return r.String()
}

// eventNames are the catalog keys of ledger actions.
var eventNames = map[string]string{
	"memo.create": "Draft started", "memo.edit": "Text edited", "memo.invite": "Signers invited", "memo.sign": "Signed",
	"memo.unsign": "Signature taken back", "memo.submit": "Submitted", "memo.read": "Read", "memo.acknowledge": "Acknowledged",
	"memo.return": "Returned as out of scope", "memo.withdraw": "Withdrawn", "memo.appeal": "Appealed", "memo.distribute": "Readers added",
	"memo.comment": "Comment to the office", "memo.meeting": "Meeting recorded", "memo.reply": "Reply sent", "memo.close": "Closed",
	"memo.history": "Revision history viewed", "memo.access_log": "Access log viewed", "memo.withheld_list": "Readers awaiting confirmation viewed", "memo.proof": "Ledger entry proved", "memo.revoke": "Reader taken off",
	"memo.decide": "Appeal decided", "memo.publish_consent": "Agreed to publication", "memo.publish": "Published",
	"memo.message": "Message between the office and the authors",
}

// EventName is a ledger action in words.
func (vw *view) EventName(action string) string {
	if k, ok := eventNames[action]; ok {
		return vw.T(k)
	}
	return action
}
