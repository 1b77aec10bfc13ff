package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/dissent-channel/dissent/internal/channel"
)

// page names a template in templates/pages; each is parsed once at start,
// together with the layout and the partials.
type page string

const (
	pageStatus       page = "status"
	pageSignIn       page = "signin"
	pageHelp         page = "help"
	pageAccount      page = "account"
	pageKeys         page = "keys"
	pageNotices      page = "notifications"
	pageMemos        page = "memos"
	pageCompose      page = "compose"
	pageMemo         page = "memo"
	pageEdit         page = "edit"
	pageHistory      page = "history"
	pageInvite       page = "invite"
	pageSign         page = "sign"
	pageSubmit       page = "submit"
	pageReceipt      page = "receipt"
	pageAccess       page = "access"
	pageReason       page = "reason"
	pageOffice       page = "office"
	pageOfficeStaff  page = "officemembers"
	pageReaders      page = "readers"
	pageMeeting      page = "meeting"
	pageReply        page = "reply"
	pageReadingRoom  page = "reading"
	pageAudit        page = "audit"
	pageFigures      page = "figures"
	pageUsers        page = "users"
	pageUser         page = "user"
	pageNewUser      page = "newuser"
	pageDistribution page = "distribution"
	pagePolicy       page = "policy"
	pagePublished    page = "published"
	pagePublication  page = "publication"
)

// allPages lists every page; a test checks that each has a template, that
// each template is listed, and that each page is rendered somewhere.
var allPages = []page{
	pageStatus, pageSignIn, pageHelp, pageAccount, pageKeys, pageNotices,
	pageMemos, pageCompose, pageMemo, pageEdit, pageHistory, pageInvite, pageSign, pageSubmit, pageReceipt, pageAccess, pageReason,
	pageOffice, pageOfficeStaff, pageReaders, pageMeeting, pageReply,
	pageReadingRoom, pageAudit, pageFigures,
	pageUsers, pageUser, pageNewUser, pageDistribution, pagePolicy,
	pagePublished, pagePublication,
}

// funcs are the helpers templates may call; translation goes through the
// view's T method so that it knows the request's language.
var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	"join":   strings.Join,
	"has":    func(list []string, s string) bool { return slices.Contains(list, s) },
	"deref":  func(p *int) int { return *p },
	"isTrue": func(p *bool) bool { return p != nil && *p },
	// fieldErr is the service's message about one form field, if any.
	"fieldErr": func(e *formError, field string) string {
		if e == nil {
			return ""
		}
		return e.Fields[field]
	},
}

// stateNames and roleNames are the catalog keys of states and roles.
var stateNames = map[string]string{
	string(channel.Draft): "Draft", string(channel.Circulating): "Circulating for signature", string(channel.Submitted): "Submitted",
	string(channel.Acknowledged): "Acknowledged", string(channel.Replied): "Replied", string(channel.Closed): "Closed",
	string(channel.Appealed):  "Appealed",
	string(channel.Withdrawn): "Withdrawn", string(channel.Returned): "Returned",
}

var roleNames = map[string]string{
	"member": "Member", "office": "Channel office", "principal": "Principal", "auditor": "Auditor", "admin": "Administrator",
	"drafter": "Drafter", "signer": "Signer", "reader": "Reader", "author": "Author", "system": "System", "standing": "Standing distribution",
}

// parsePages parses the layout and partials once, then each page on a
// clone of them.
func parsePages() (map[page]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	out := map[page]*template.Template{}
	for _, p := range allPages {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(assets, "templates/pages/"+string(p)+".html"); err != nil {
			return nil, fmt.Errorf("web: page %q: %w", p, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: page %q defines no content", p)
		}
		out[p] = t
	}
	files, err := fs.Glob(assets, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !slices.Contains(allPages, page(strings.TrimSuffix(path.Base(f), ".html"))) {
			return nil, fmt.Errorf("web: template %s is not a listed page", f)
		}
	}
	return out, nil
}
