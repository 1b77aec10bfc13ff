package api

import (
	"github.com/dissent-channel/dissent/internal/clientip"
	"net/http"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// Request bodies that are not service types.
type (
	// cosignRequest carries a checkpoint note cosigned by witnesses, as
	// `dissent ledger cosign` prints it.
	cosignRequest struct {
		Checkpoint string `json:"checkpoint"`
	}
	signInRequest struct {
		Username string `json:"username"`
		Password string `json:"password"`
		// Device is the device token an earlier sign-in to this account
		// gave this client, if it kept one: its failed sign-ins are then
		// counted apart from others' (service.SignInFrom).
		Device string `json:"device,omitempty"`
	}
	signInResponse struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		Device    string    `json:"device"`
	}
	// deviceResponse answers a step that ended the account's sessions and
	// device tokens (a new password, new keys): the token that takes the
	// place of this client's, to send with its next sign-in.
	deviceResponse struct {
		Device string `json:"device"`
	}
	usernamesRequest struct {
		Usernames []string `json:"usernames"`
	}
	revisionRequest struct {
		Revision int `json:"revision"`
	}
	reasonRequest struct {
		Reason string `json:"reason"`
	}
	bodyRequest struct {
		Body string `json:"body"`
	}
	passwordRequest struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	resetRequest struct {
		Password string `json:"password"`
	}
	keysAwaitingList struct {
		Items []service.KeysAwaiting `json:"items"`
	}
	withheldList struct {
		Items []service.WithheldReader `json:"items"`
	}
)

var (
	pageParams = []param{{name: "limit", desc: "page size, 1 to 200 (default 50)", integer: true}, {name: "cursor", desc: "next_cursor of the previous page"}}
)

func routes() []route {
	return []route{
		{method: "POST", path: "/api/v1/sessions", summary: "Sign in", request: signInRequest{}, response: signInResponse{}, status: 201,
			handle: (*handler).signIn},
		{method: "DELETE", path: "/api/v1/sessions/current", summary: "Sign out", auth: true, status: 204,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				h.reply(w, r, http.StatusNoContent, nil, h.svc.SignOut(r.Context(), a))
			}},
		{method: "GET", path: "/api/v1/me", summary: "The signed-in user", auth: true, response: service.User{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				u, err := h.svc.Me(r.Context(), a)
				h.reply(w, r, 200, u, err)
			}},
		{method: "PUT", path: "/api/v1/me/password", summary: "Change your password (your keys are re-wrapped; every session ends, and the answer holds this client's new device token)", auth: true, request: passwordRequest{}, response: deviceResponse{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in passwordRequest
				if h.decode(w, r, &in) {
					device, err := h.svc.ChangePasswordFrom(r.Context(), a, in.CurrentPassword, in.NewPassword)
					h.reply(w, r, 200, deviceResponse{Device: device}, err)
				}
			}},
		{method: "POST", path: "/api/v1/me/keys", summary: "Start afresh with new keys after a password reset, under a new password of your own (loses access to memos shared with the old ones; every session ends, and the answer holds this client's new device token)", auth: true, request: passwordRequest{}, response: deviceResponse{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in passwordRequest
				if h.decode(w, r, &in) {
					device, err := h.svc.NewKeysFrom(r.Context(), a, in.CurrentPassword, in.NewPassword)
					h.reply(w, r, 200, deviceResponse{Device: device}, err)
				}
			}},
		{method: "POST", path: "/api/v1/users", summary: "Create a user (administrators)", auth: true, request: service.NewUser{}, response: service.User{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.NewUser
				if h.decode(w, r, &in) {
					u, err := h.svc.CreateUser(r.Context(), a, in)
					h.reply(w, r, 201, u, err)
				}
			}},
		{method: "GET", path: "/api/v1/users", summary: "Search the directory", auth: true, response: service.UserPage{}, status: 200,
			query: append([]param{{name: "q", desc: "part of a username or display name"}}, pageParams...),
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				p, err := h.svc.Directory(r.Context(), a, r.URL.Query().Get("q"), r.URL.Query().Get("cursor"), n)
				h.reply(w, r, 200, p, err)
			}},
		{method: "PATCH", path: "/api/v1/users/{username}", summary: "Change roles, eligibility or state (administrators)", auth: true, request: service.UserUpdate{}, response: service.User{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.UserUpdate
				if h.decode(w, r, &in) {
					u, err := h.svc.UpdateUser(r.Context(), a, r.PathValue("username"), in)
					h.reply(w, r, 200, u, err)
				}
			}},
		{method: "POST", path: "/api/v1/users/{username}/password-reset", summary: "Reset a password (administrators); the user's keys stay locked until recovery", auth: true, request: resetRequest{}, status: 204,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in resetRequest
				if h.decode(w, r, &in) {
					h.reply(w, r, 204, nil, h.svc.ResetPassword(r.Context(), a, r.PathValue("username"), in.Password))
				}
			}},
		{method: "POST", path: "/api/v1/office/members/{username}/grant", summary: "Let a new office member in (a current office member)", auth: true, status: 204,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				h.reply(w, r, 204, nil, h.svc.GrantOffice(r.Context(), a, r.PathValue("username")))
			}},
		{method: "GET", path: "/api/v1/office/key-confirmations", summary: "Accounts whose keys await the office's confirmation before anyone wraps to them: keys made again, and principals' keys the office has not confirmed (an office member holding the office key)", auth: true, response: keysAwaitingList{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				list, err := h.svc.KeysAwaitingConfirmation(r.Context(), a)
				h.reply(w, r, 200, keysAwaitingList{Items: list}, err)
			}},
		{method: "POST", path: "/api/v1/office/key-confirmations/{username}", summary: "Confirm, with the fingerprint the person read from their account page, that an account's keys are theirs, and as a principal's if the list says it is one (an office member holding the office key, not an administrator)", auth: true, request: service.KeyConfirmation{}, status: 204,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.KeyConfirmation
				if h.decode(w, r, &in) {
					h.reply(w, r, 204, nil, h.svc.ConfirmKeys(r.Context(), a, r.PathValue("username"), in))
				}
			}},
		{method: "GET", path: "/api/v1/admin/distribution", summary: "The standing distribution (administrators)", auth: true, response: service.Distribution{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				d, err := h.svc.GetDistribution(r.Context(), a)
				h.reply(w, r, 200, d, err)
			}},
		{method: "PUT", path: "/api/v1/admin/distribution", summary: "Replace the standing distribution (administrators)", auth: true, request: service.Distribution{}, response: service.Distribution{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.Distribution
				if h.decode(w, r, &in) {
					d, err := h.svc.SetDistribution(r.Context(), a, in)
					h.reply(w, r, 200, d, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos", summary: "Start a draft", auth: true, large: true, request: service.MemoInput{}, response: service.Memo{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.MemoInput
				if h.decode(w, r, &in) {
					m, err := h.svc.CreateMemo(r.Context(), a, in)
					h.reply(w, r, 201, m, err)
				}
			}},
		{method: "GET", path: "/api/v1/memos", summary: "List the memos of a box", auth: true, response: service.MemoPage{}, status: 200,
			query: append([]param{{name: "box", desc: "mine, office or distribution", required: true}, {name: "state", desc: "comma-separated states to filter by"}}, pageParams...),
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				var states []string
				if s := r.URL.Query().Get("state"); s != "" {
					states = strings.Split(s, ",")
				}
				p, err := h.svc.ListMemos(r.Context(), a, r.URL.Query().Get("box"), states, r.URL.Query().Get("cursor"), n)
				h.reply(w, r, 200, p, err)
			}},
		{method: "GET", path: "/api/v1/memos/{id}", summary: "Read a memo (an audited event)", auth: true, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				m, err := h.svc.GetMemo(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, m, err)
			}},
		{method: "PUT", path: "/api/v1/memos/{id}", summary: "Edit: a new revision; signatures on older ones stop counting", auth: true, large: true, request: service.EditInput{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.EditInput
				if h.decode(w, r, &in) {
					m, err := h.svc.EditMemo(r.Context(), a, r.PathValue("id"), in)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "GET", path: "/api/v1/memos/{id}/export", summary: "Export a memo as a bundle verifiable offline (dissent verify)", auth: true, response: bundle.Bundle{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				b, err := h.svc.ExportMemo(r.Context(), a, r.PathValue("id"))
				if err == nil {
					w.Header().Set("Content-Disposition", `attachment; filename="memo-`+b.MemoID+`.json"`)
				}
				h.reply(w, r, 200, b, err)
			}},
		{method: "GET", path: "/api/v1/ledger/status", summary: "Ledger size, latest checkpoint and last self-check (auditors, administrators)", auth: true, response: service.LedgerStatus{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				st, err := h.svc.LedgerStatus(r.Context(), a)
				h.reply(w, r, 200, st, err)
			}},
		{method: "GET", path: "/api/v1/ledger/key", summary: "The ledger's public key (a note verifier key)", auth: true, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				k, err := h.svc.LedgerPublicKey(r.Context())
				if err != nil {
					h.fail(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = w.Write([]byte(k + "\n"))
			}},
		{method: "GET", path: "/api/v1/memos/{id}/revisions", summary: "A page of a memo's revisions, oldest first (its authors and the office)", auth: true, response: service.RevisionList{}, status: 200,
			query: pageParams,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				l, err := h.svc.Revisions(r.Context(), a, r.PathValue("id"), r.URL.Query().Get("cursor"), n)
				h.reply(w, r, 200, l, err)
			}},
		{method: "POST", path: "/api/v1/memos/{id}/signers", summary: "Invite signers; the memo starts circulating", auth: true, request: usernamesRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in usernamesRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.InviteSigners(r.Context(), a, r.PathValue("id"), in.Usernames)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/signatures", summary: "Sign an exact revision", auth: true, request: revisionRequest{}, response: service.Memo{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in revisionRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Sign(r.Context(), a, r.PathValue("id"), in.Revision)
					h.reply(w, r, 201, m, err)
				}
			}},
		{method: "DELETE", path: "/api/v1/memos/{id}/signatures/me", summary: "Take your signature back (before submission)", auth: true, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				m, err := h.svc.Unsign(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, m, err)
			}},
		{method: "POST", path: "/api/v1/memos/{id}/submit", summary: "Submit a revision; answers the receipt", auth: true, request: revisionRequest{}, response: service.Receipt{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in revisionRequest
				if h.decode(w, r, &in) {
					rc, err := h.svc.Submit(r.Context(), a, r.PathValue("id"), in.Revision)
					h.reply(w, r, 201, rc, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/acknowledge", summary: "Acknowledge (office)", auth: true, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				m, err := h.svc.Acknowledge(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, m, err)
			}},
		{method: "POST", path: "/api/v1/memos/{id}/return", summary: "Return as out of scope, with a reason (office)", auth: true, request: reasonRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in reasonRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Return(r.Context(), a, r.PathValue("id"), in.Reason)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/withdraw", summary: "Withdraw before the reply (drafters)", auth: true, request: reasonRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in reasonRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Withdraw(r.Context(), a, r.PathValue("id"), in.Reason)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/appeal", summary: "Appeal the reply, with a reason, within the profile's time to appeal (drafters; profiles with appeals)", auth: true, request: reasonRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in reasonRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Appeal(r.Context(), a, r.PathValue("id"), in.Reason)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/decision", summary: "Decide the authors' appeal, for good (office; 409 unless the memo is appealed)", auth: true, large: true, request: bodyRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in bodyRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.DecideAppeal(r.Context(), a, r.PathValue("id"), in.Body)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/distribution", summary: "Add readers beyond the standing distribution, with a reason (office)", auth: true, request: service.ReadersInput{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.ReadersInput
				if h.decode(w, r, &in) {
					m, err := h.svc.AddReaders(r.Context(), a, r.PathValue("id"), in)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "GET", path: "/api/v1/memos/{id}/withheld", summary: "Principals the memo was withheld from while their keys awaited the office's confirmation, which will share it with them (office)", auth: true, response: withheldList{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				list, err := h.svc.WithheldReaders(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, withheldList{Items: list}, err)
			}},
		{method: "DELETE", path: "/api/v1/memos/{id}/distribution/{username}", summary: "Take a reader off the distribution and rotate the memo key (office)", auth: true, request: reasonRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in reasonRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.RevokeReader(r.Context(), a, r.PathValue("id"), r.PathValue("username"), in.Reason)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/comments", summary: "Comment to the office (office, readers)", auth: true, large: true, request: bodyRequest{}, response: service.Memo{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in bodyRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Comment(r.Context(), a, r.PathValue("id"), in.Body)
					h.reply(w, r, 201, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/messages", summary: "Write to the memo's authors (office) or to the office (authors), from its submission until the case ends; readers do not see messages", auth: true, large: true, request: bodyRequest{}, response: service.Memo{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in bodyRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Message(r.Context(), a, r.PathValue("id"), in.Body)
					h.reply(w, r, 201, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/meetings", summary: "Record a meeting (office)", auth: true, large: true, request: service.MeetingInput{}, response: service.Memo{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in service.MeetingInput
				if h.decode(w, r, &in) {
					m, err := h.svc.RecordMeeting(r.Context(), a, r.PathValue("id"), in)
					h.reply(w, r, 201, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/reply", summary: "Send the substantive reply (office)", auth: true, large: true, request: bodyRequest{}, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in bodyRequest
				if h.decode(w, r, &in) {
					m, err := h.svc.Reply(r.Context(), a, r.PathValue("id"), in.Body)
					h.reply(w, r, 200, m, err)
				}
			}},
		{method: "POST", path: "/api/v1/memos/{id}/close", summary: "Close (office)", auth: true, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				m, err := h.svc.Close(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, m, err)
			}},
		{method: "GET", path: "/api/v1/memos/{id}/access", summary: "Who read or was granted the memo, and when (authors, office, auditors): the grants, then the reads in ledger order", auth: true, response: service.AccessPage{}, status: 200,
			query: pageParams,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				p, err := h.svc.AccessLog(r.Context(), a, r.PathValue("id"), r.URL.Query().Get("cursor"), n)
				h.reply(w, r, 200, p, err)
			}},
		{method: "POST", path: "/api/v1/memos/{id}/publication/consent", summary: "Agree, for good, to the publication of the memo once its case is closed (drafters; profiles that publish closed cases)", auth: true, response: service.Memo{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				m, err := h.svc.AgreeToPublish(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, m, err)
			}},
		{method: "POST", path: "/api/v1/memos/{id}/publish", summary: "Publish a closed case that every drafter agreed to publish, once its time to appeal is over (office; profiles that publish closed cases)", auth: true, response: service.Publication{}, status: 201,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				p, err := h.svc.Publish(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 201, p, err)
			}},
		{method: "GET", path: "/api/v1/publications", summary: "The published cases, newest first (anyone signed in)", auth: true, response: service.PublicationPage{}, status: 200,
			query: pageParams,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				p, err := h.svc.Publications(r.Context(), a, r.URL.Query().Get("cursor"), n)
				h.reply(w, r, 200, p, err)
			}},
		{method: "GET", path: "/api/v1/publications/{id}", summary: "A published case: the text as submitted, the reply, any appeal and its decision, no name (anyone signed in; the read is recorded)", auth: true, response: service.Publication{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				p, err := h.svc.GetPublication(r.Context(), a, r.PathValue("id"))
				h.reply(w, r, 200, p, err)
			}},
		{method: "GET", path: "/api/v1/ledger/checkpoint", summary: "The latest signed checkpoint (text)", auth: true, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				note, err := h.svc.LatestCheckpoint(r.Context(), a)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = w.Write(note)
			}},
		{method: "GET", path: "/api/v1/ledger/cosigned", summary: "The largest checkpoint witnesses have cosigned, with their cosignatures (text)", auth: true, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				note, err := h.svc.CosignedCheckpoint(r.Context(), a)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = w.Write(note)
			}},
		{method: "POST", path: "/api/v1/ledger/cosignatures", summary: "Publish witnesses' cosignatures of a checkpoint the ledger signed (auditors, administrators)", auth: true, request: cosignRequest{}, response: service.Cosigned{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in cosignRequest
				if h.decode(w, r, &in) {
					c, err := h.svc.AddCosignatures(r.Context(), a, []byte(in.Checkpoint))
					h.reply(w, r, 200, c, err)
				}
			}},
		{method: "GET", path: "/api/v1/ledger/proof", summary: "Inclusion proof of leaf index in the tree of size leaves, with that size's signed checkpoint; the leaf itself to auditors, administrators, and a memo's authors and office for the memo's entries", auth: true, response: service.Proof{}, status: 200,
			query: []param{{name: "index", required: true, integer: true}, {name: "size", desc: "the tree size; omitted, the latest checkpoint's", integer: true}},
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				idx, err1 := intParam(r, "index")
				var size int64
				var err2 error
				if r.URL.Query().Has("size") {
					size, err2 = intParam(r, "size")
					if err2 == nil && size < 1 {
						err2 = channel.Invalid("size", "must be at least 1, or omitted for the latest checkpoint's")
					}
				}
				if err := firstErr(err1, err2); err != nil {
					h.fail(w, r, err)
					return
				}
				p, err := h.svc.InclusionProof(r.Context(), a, idx, size)
				h.reply(w, r, 200, p, err)
			}},
		{method: "GET", path: "/api/v1/ledger/consistency", summary: "Consistency proof between two tree sizes", auth: true, response: service.Proof{}, status: 200,
			query: []param{{name: "from", required: true, integer: true}, {name: "to", required: true, integer: true}},
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				from, err1 := intParam(r, "from")
				to, err2 := intParam(r, "to")
				if err := firstErr(err1, err2); err != nil {
					h.fail(w, r, err)
					return
				}
				p, err := h.svc.ConsistencyProof(r.Context(), a, from, to)
				h.reply(w, r, 200, p, err)
			}},
		{method: "GET", path: "/api/v1/stats", summary: "A year's figures, small counts suppressed (auditors, office, administrators)", auth: true, response: service.Stats{}, status: 200,
			query: []param{{name: "year", required: true, integer: true}},
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				y, err := intParam(r, "year")
				if err != nil {
					h.fail(w, r, err)
					return
				}
				st, err := h.svc.YearStats(r.Context(), a, int(y))
				h.reply(w, r, 200, st, err)
			}},
		{method: "GET", path: "/api/v1/stats/csv", summary: "A year's figures as CSV rows of table, cell and value, small counts suppressed (auditors, office, administrators)", auth: true, status: 200, contentType: "text/csv",
			query:  []param{{name: "year", required: true, integer: true}},
			handle: (*handler).statsCSV},
		{method: "GET", path: "/api/v1/notifications", summary: "Your bell: your notices, newest first, and what waits for you as an author (worked out from your keys now, never stored)", auth: true, response: service.Bell{}, status: 200,
			query: []param{{name: "limit", desc: "how many notices, 1 to 200 (default 50)", integer: true}},
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := limit(r)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				b, err := h.svc.Notifications(r.Context(), a, n)
				h.reply(w, r, 200, b, err)
			}},
		{method: "GET", path: "/api/v1/notifications/unread", summary: "The number your bell shows", auth: true, response: unreadResponse{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				n, err := h.svc.UnreadCount(r.Context(), a)
				h.reply(w, r, 200, unreadResponse{Unread: n}, err)
			}},
		{method: "POST", path: "/api/v1/notifications/read", summary: "Mark your notices read up to seq (0: all of them)", auth: true, request: markReadRequest{}, status: 204,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				var in markReadRequest
				if h.decode(w, r, &in) {
					h.reply(w, r, 204, nil, h.svc.MarkNotificationsRead(r.Context(), a, in.Seq))
				}
			}},
		{method: "GET", path: "/api/v1/jobs", summary: "Background jobs: when each runs next, its last run and error (administrators, auditors)", auth: true, response: jobsResponse{}, status: 200,
			handle: func(h *handler, w http.ResponseWriter, r *http.Request, a *service.Actor) {
				js, err := h.svc.Jobs(r.Context(), a)
				h.reply(w, r, 200, jobsResponse{Items: js}, err)
			}},
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request, _ *service.Actor) {
	var in signInRequest
	if !h.decode(w, r, &in) {
		return
	}
	tok, exp, device, err := h.svc.SignInFrom(r.Context(), in.Username, in.Password, in.Device, clientip.From(r.Context()))
	h.reply(w, r, 201, signInResponse{Token: tok, ExpiresAt: exp, Device: device}, err)
}
