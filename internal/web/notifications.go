package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// noticeNames are the catalog keys of the bell's notice kinds: what each
// asks, in plain words. A notice carries no title, and so neither does its
// line on the page. The reminder and escalation kinds are "remind." and
// "overdue." followed by the deadline, as package service writes them.
var noticeNames = map[string]string{
	service.KindReceived:                     "A memo arrived for the office: acknowledge its receipt",
	service.KindDistributed:                  "A memo was distributed to you to read",
	service.KindAppealed:                     "The authors of a memo appealed the office's reply: decide the appeal",
	service.KindMessage:                      "The authors of a memo wrote to the office",
	service.KindWrote:                        "The channel office wrote to you about your memo",
	"remind." + service.DeadlineAppealReply:  "Reminder: a decision on appeal is due",
	"overdue." + service.DeadlineAppealReply: "Overdue: a decision on appeal was not given in time",
	"remind." + service.DeadlineAcknowledge:  "Reminder: a memo's receipt is due to be acknowledged",
	"remind." + service.DeadlineReply:        "Reminder: a memo's substantive reply is due",
	"remind." + service.DeadlineReplyLatest:  "Reminder: a memo's reply is due at the latest",
	"overdue." + service.DeadlineAcknowledge: "Overdue: a memo's receipt was not acknowledged in time",
	"overdue." + service.DeadlineReply:       "Overdue: a memo's substantive reply was not sent in time",
	"overdue." + service.DeadlineReplyLatest: "Overdue: a memo is past its latest reply date",
	service.KindSignPending:                  "Your signature is asked on a memo",
	service.KindDraftStale:                   "A draft of yours has not changed for a long time",
	service.KindAcknowledged:                 "The channel office acknowledged the receipt of your memo",
	service.KindReplied:                      "The channel office replied to your memo",
	service.KindReturned:                     "The channel office returned your memo, with its reason",
	service.KindPublished:                    "Your closed case was published, naming no one",
	service.KindKeysRecovered:                "The recovery custodians restored your keys, under the password you typed with them",
	service.KindAccountCreated:               "An administrator made your account: at your first sign-in you choose your own password, which makes your keys",
	service.KindKeysMade:                     "Your keys were made, when your own password was chosen: if that was not you, tell the channel office",
	service.KindPasswordReset:                "An administrator reset your password: if you did not ask for it, tell the channel office",
	service.KindNewKeys:                      "New keys were made for your account after a password reset: if that was not you, tell the channel office",
	service.KindEmailChanged:                 "Your e-mail address was changed: if you did not ask for it, tell the channel office",
	service.KindKeysConfirmed:                "The channel office confirmed your keys: memos are shared with you",
	service.KindKeysAwaiting:                 "An account's keys await the office's confirmation: see Office members",
}

// noticeRow is one line of the notifications page.
type noticeRow struct {
	service.Notice
	Text     string // what it asks, in words
	When     string // when it was sent, or since when it holds
	DueLabel string // which deadline DueAt is
	Overdue  bool   // an escalation: the deadline passed unmet
	// OfficeMembers: the notice asks for the office's members page.
	OfficeMembers bool
}

type notificationsData struct {
	// Waiting is what waits for the visitor as an author, worked out now.
	Waiting []noticeRow
	// Items are the stored notices, newest first.
	Items  []noticeRow
	Unread bool  // some stored notice is unread
	UpTo   int64 // the newest notice shown: marking read stops there
}

func (h *handler) notifications(w http.ResponseWriter, r *http.Request, v *visit) {
	bell, err := h.svc.Notifications(r.Context(), v.actor, 0)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var d notificationsData
	for _, n := range bell.Waiting {
		d.Waiting = append(d.Waiting, noticeLine(v, n))
	}
	for _, n := range bell.Items {
		d.Items = append(d.Items, noticeLine(v, n))
		d.Unread = d.Unread || !n.Read
		d.UpTo = max(d.UpTo, n.Seq)
	}
	// The bell counts from the same reading as the page.
	h.render(w, r, v, http.StatusOK, pageNotices, &view{Title: v.T("Notifications"), Data: d, unread: bell.Unread, bellKnown: true})
}

// noticeLine puts n in words.
func noticeLine(v *visit, n service.Notice) noticeRow {
	row := noticeRow{Notice: n, Text: v.T("Something needs your attention"), Overdue: strings.HasPrefix(n.Kind, "overdue."),
		OfficeMembers: n.Kind == service.KindKeysAwaiting}
	if k, ok := noticeNames[n.Kind]; ok {
		row.Text = v.T(k)
	}
	switch n.Kind {
	case service.KindSignPending:
		row.When = v.T("Waiting since %s", v.DateTime(n.At))
	case service.KindDraftStale:
		row.When = v.T("Last change %s", v.DateTime(n.At))
	case service.KindAcknowledged, service.KindReplied, service.KindReturned, service.KindPublished, service.KindWrote:
		row.When = v.T("On %s", v.DateTime(n.At))
	default:
		row.When = v.T("Sent %s", v.DateTime(n.At))
	}
	switch {
	case n.DueAt == nil:
	case n.Kind == service.KindReceived || strings.HasSuffix(n.Kind, "."+service.DeadlineAcknowledge):
		row.DueLabel = v.T("Acknowledge by")
	case n.Kind == service.KindAppealed || strings.HasSuffix(n.Kind, "."+service.DeadlineAppealReply):
		row.DueLabel = v.T("Decide the appeal by")
	case strings.HasSuffix(n.Kind, "."+service.DeadlineReplyLatest):
		row.DueLabel = v.T("Reply at the latest by")
	case strings.HasSuffix(n.Kind, "."+service.DeadlineReply):
		row.DueLabel = v.T("Reply by")
	default:
		row.DueLabel = v.T("Deadline")
	}
	return row
}

// markNotificationsRead marks the notices up to the newest the page showed
// as read, so that one which arrived meanwhile stays unread.
func (h *handler) markNotificationsRead(w http.ResponseWriter, r *http.Request, v *visit) {
	seq, err := strconv.ParseInt(r.PostForm.Get("seq"), 10, 64)
	if err != nil {
		err = channel.Invalid("seq", "the form does not say which notices were shown")
	} else {
		err = h.svc.MarkNotificationsRead(r.Context(), v.actor, seq)
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	redirect(w, r, "/notifications", flashNoticesRead)
}
