package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// listLimit is how many memos a list page shows before "more".
const listLimit = 100

// stateGroup is a heading in "my memos" and the memos under it.
type stateGroup struct {
	State string
	Memos []service.MemoSummary
}

type memosData struct {
	Groups []stateGroup
	Empty  bool
	Next   string
}

// strongest returns the strongest handling marking among ms, for the
// banner of a page that lists memo titles.
func (h *handler) strongest(ms ...string) string {
	order := h.svc.Config().Profile.Markings
	best, rank := "", -1
	for _, m := range ms {
		if m == "" {
			continue
		}
		i := slices.Index(order, m)
		if i < 0 {
			i = len(order) // a marking the profile does not list: treat as strongest
		}
		if i > rank {
			best, rank = m, i
		}
	}
	return best
}

func (h *handler) myMemos(w http.ResponseWriter, r *http.Request, v *visit) {
	page, err := h.svc.ListMemos(r.Context(), v.actor, service.BoxMine, nil, r.URL.Query().Get("cursor"), listLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := memosData{Empty: len(page.Items) == 0, Next: page.NextCursor}
	var marks []string
	for _, st := range channel.States {
		g := stateGroup{State: string(st)}
		for _, m := range page.Items {
			if m.State == string(st) {
				g.Memos = append(g.Memos, m)
				marks = append(marks, m.Marking)
			}
		}
		if len(g.Memos) > 0 {
			d.Groups = append(d.Groups, g)
		}
	}
	h.render(w, r, v, http.StatusOK, pageMemos, &view{Title: v.T("My memos"), Marking: h.strongest(marks...), Data: d})
}

// composeData is the new-memo form: what was typed, and the directory
// search for co-drafters.
type composeData struct {
	Title, Body, Marking string
	Query                string
	Chosen               []service.User // co-drafters ticked so far
	Found                []service.User // directory results not yet chosen
	Searched             bool
	Anonymous            bool // file without a name (policies that allow it)
	Error                *formError
}

func (h *handler) compose(w http.ResponseWriter, r *http.Request, v *visit) {
	d := composeData{}
	if ms := h.svc.Config().Profile.Markings; len(ms) > 0 {
		d.Marking = ms[0]
	}
	h.render(w, r, v, http.StatusOK, pageCompose, &view{Title: v.T("New memo"), Data: d})
}

// create saves a new draft, or searches the directory for co-drafters and
// shows the form again with everything typed so far. The search travels
// in the form body, so names never appear in an address.
func (h *handler) create(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	d := composeData{Title: f.Get("title"), Body: f.Get("body"), Marking: f.Get("marking"), Query: strings.TrimSpace(f.Get("q")), Anonymous: f.Get("anonymous") == "1"}
	chosen := cleanNames(f["codrafters"])
	if f.Get("action") == "find" {
		var err error
		if d.Chosen, d.Found, err = h.search(r, v, d.Query, chosen); err != nil {
			if fe, ok := asFormError(v, err); ok {
				d.Error = fe
			} else {
				h.fail(w, r, v, err)
				return
			}
		}
		d.Searched = true
		h.render(w, r, v, http.StatusOK, pageCompose, &view{Title: v.T("New memo"), Data: d})
		return
	}
	m, err := h.svc.CreateMemo(r.Context(), v.actor, service.MemoInput{Title: d.Title, Body: d.Body, Marking: d.Marking, Codrafters: chosen, Anonymous: d.Anonymous})
	if err != nil {
		fe, ok := asFormError(v, err)
		if !ok {
			h.fail(w, r, v, err)
			return
		}
		d.Error = fe
		d.Chosen, _, _ = h.search(r, v, "", chosen)
		h.render(w, r, v, formStatus(err), pageCompose, &view{Title: v.T("New memo"), Data: d})
		return
	}
	redirect(w, r, "/memos/"+m.ID, flashCreated)
}

// cleanNames trims usernames and drops empty and repeated ones.
func cleanNames(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		// One more than the service takes is enough for it to refuse the
		// list, and bounds the work a long one costs here (the lookups of
		// search too) before it does.
		if len(out) > channel.MaxUsernames {
			break
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// search looks q up in the directory. It returns the chosen users (as the
// directory names them) and the results not chosen yet, leaving out the
// visitor.
func (h *handler) search(r *http.Request, v *visit, q string, chosen []string) (picked, found []service.User, err error) {
	if picked, err = h.svc.DirectoryNamed(r.Context(), v.actor, chosen); err != nil {
		return nil, nil, err
	}
	if q == "" {
		return picked, nil, nil
	}
	p, err := h.svc.Directory(r.Context(), v.actor, q, "", 20)
	if err != nil {
		return picked, nil, err
	}
	for _, u := range p.Items {
		if u.Username != v.actor.Username() && !slices.Contains(chosen, u.Username) {
			found = append(found, service.User{Username: u.Username, DisplayName: u.DisplayName})
		}
	}
	return picked, found, nil
}

// getMemo reads the memo named in the path (an audited read), answering
// the error page itself when that fails.
func (h *handler) getMemo(w http.ResponseWriter, r *http.Request, v *visit) (*service.Memo, bool) {
	m, err := h.svc.GetMemo(r.Context(), v.actor, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	return m, true
}

// again handles the error of a step on the memo in the path: an error
// about the step comes back with the memo, read again, to show the form
// with it; any other error gets its error page and ok is false.
func (h *handler) again(w http.ResponseWriter, r *http.Request, v *visit, err error) (m *service.Memo, fe *formError, ok bool) {
	if fe, ok = asFormError(v, err); !ok {
		h.fail(w, r, v, err)
		return nil, nil, false
	}
	if m, ok = h.getMemo(w, r, v); !ok {
		return nil, nil, false
	}
	return m, fe, true
}

// memoData is the memo page. The Can* fields only decide which buttons
// to show; the service decides what may be done.
type memoData struct {
	M        *service.Memo
	Drafter  bool
	Author   bool
	Office   bool
	Reader   bool
	Editable bool
	Signed   []service.Author // whose signature counts on the current revision
	Waiting  []service.Author // who has not signed it
	Due      *dueInfo
	Owed     string // the answer the office owes
	Error    *formError
	// Revoke is the removal form that was sent and failed, shown open
	// again beside its reader with what was typed.
	Revoke revokeForm

	CanSubmit, CanWithdraw, CanAcknowledge, CanReturn, CanReply, CanClose, CanDistribute, CanRevoke, CanMeet, CanComment, CanAppeal, CanMessage bool
	// CanAgree: a drafter may agree to publish; CanPublish: the office
	// may publish now (profiles that publish closed cases).
	CanAgree, CanPublish bool
}

func (h *handler) memoData(v *visit, m *service.Memo) memoData {
	st := channel.State(m.State)
	d := memoData{M: m, Drafter: m.Viewer == "drafter", Author: m.Viewer == "drafter" || m.Viewer == "signer",
		Office: m.Viewer == "office", Reader: m.Viewer == "reader", Editable: st.Editable()}
	for _, a := range m.Authors {
		if a.SignedRevision != nil && *a.SignedRevision == m.Revision {
			d.Signed = append(d.Signed, a)
		} else {
			d.Waiting = append(d.Waiting, a)
		}
	}
	d.CanSubmit = d.Drafter && d.Editable
	answerOwed := st == channel.Submitted || st == channel.Acknowledged
	d.CanWithdraw = d.Drafter && (d.Editable || answerOwed)
	d.CanAcknowledge = d.Office && st == channel.Submitted
	d.CanReturn = d.Office && answerOwed
	d.CanReply = d.Office && st.Open()
	if p := m.Publication; p != nil {
		d.CanAgree = d.Drafter && !p.YouAgreed && st != channel.Returned && st != channel.Withdrawn
		appealing := m.Appeal == nil && m.Deadlines != nil && m.Deadlines.AppealBy != nil && h.svc.Now().Before(*m.Deadlines.AppealBy)
		d.CanPublish = d.Office && st == channel.Closed && p.PublishedAt == nil && p.Agreed == p.Drafters && !appealing
	}
	d.CanAppeal = d.Drafter && (st == channel.Replied || st == channel.Closed) && m.Appeal == nil &&
		m.Deadlines != nil && m.Deadlines.AppealBy != nil && !h.svc.Now().After(*m.Deadlines.AppealBy)
	d.CanClose = d.Office && st == channel.Replied
	d.CanDistribute = d.Office && st.Delivered() && st != channel.Returned
	d.CanRevoke = d.Office && st.Delivered()
	d.CanMeet = d.Office && st.Delivered()
	d.CanComment = d.Office || d.Reader
	d.CanMessage = (d.Office || d.Author) && (st.Open() || st == channel.Replied)
	if st.Open() && m.Deadlines != nil {
		due := m.Deadlines.ReplyBy
		d.Owed = v.T("Reply")
		switch {
		case st == channel.Submitted:
			due, d.Owed = m.Deadlines.AcknowledgeBy, v.T("Acknowledgement")
		case st == channel.Appealed && m.Deadlines.AppealReplyBy != nil:
			due, d.Owed = *m.Deadlines.AppealReplyBy, v.T("Decision on appeal")
		}
		d.Due = h.due(v, due, h.svc.Now())
	}
	return d
}

func (h *handler) memo(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	h.showMemo(w, r, v, http.StatusOK, m, nil)
}

func (h *handler) showMemo(w http.ResponseWriter, r *http.Request, v *visit, status int, m *service.Memo, fe *formError) {
	d := h.memoData(v, m)
	d.Error = fe
	h.renderMemo(w, r, v, status, d)
}

func (h *handler) renderMemo(w http.ResponseWriter, r *http.Request, v *visit, status int, d memoData) {
	h.render(w, r, v, status, pageMemo, &view{Title: v.T("Memo"), Marking: d.M.Marking, Data: d})
}

// memoAction runs a step on the memo in the path. On success it goes to
// target with a notice; an error about the step is shown on the memo page.
func (h *handler) memoAction(w http.ResponseWriter, r *http.Request, v *visit, target string, note flash, step func() error) {
	id := r.PathValue("id")
	err := step()
	if err == nil {
		if target == "" {
			target = "/memos/" + id
		}
		redirect(w, r, target, note)
		return
	}
	if m, fe, ok := h.again(w, r, v, err); ok {
		h.showMemo(w, r, v, formStatus(err), m, fe)
	}
}

// editData is the edit form.
type editData struct {
	ID, Title, Body, Marking, State string
	Revision, Signatures            int
	Autosave                        bool
	Error                           *formError
}

func (h *handler) editPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	d := editData{ID: m.ID, Title: m.Title, Body: m.Body, Marking: m.Marking, State: m.State, Revision: m.Revision}
	for _, a := range m.Authors {
		if a.SignedRevision != nil && *a.SignedRevision == m.Revision {
			d.Signatures++
		}
	}
	d.Autosave = m.State == string(channel.Draft)
	h.render(w, r, v, http.StatusOK, pageEdit, &view{Title: v.T("Edit memo"), Marking: m.Marking, Data: d, Autosave: d.Autosave})
}

// autosaveReply is what the autosave script gets back.
type autosaveReply struct {
	Revision int    `json:"revision"`
	Message  string `json:"message"`
}

func (h *handler) edit(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	rev, _ := strconv.Atoi(f.Get("expected_revision"))
	in := service.EditInput{Title: f.Get("title"), Body: f.Get("body"), Marking: f.Get("marking"), ExpectedRevision: rev}
	m, err := h.svc.EditMemo(r.Context(), v.actor, r.PathValue("id"), in)
	if f.Get("autosave") == "1" {
		// The script's request: answer in JSON, in the visitor's language.
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(formStatus(err))
			_ = json.NewEncoder(w).Encode(autosaveReply{Revision: rev, Message: v.T("Not saved: %s", channel.ErrorMessage(err))})
			return
		}
		_ = json.NewEncoder(w).Encode(autosaveReply{Revision: m.Revision, Message: v.T("Saved as revision %d at %s.", m.Revision, v.DateTime(m.UpdatedAt))})
		return
	}
	if err != nil {
		fe, ok := asFormError(v, err)
		if !ok {
			h.fail(w, r, v, err)
			return
		}
		d := editData{ID: r.PathValue("id"), Title: in.Title, Body: in.Body, Marking: in.Marking, Revision: rev, Error: fe}
		h.render(w, r, v, formStatus(err), pageEdit, &view{Title: v.T("Edit memo"), Marking: in.Marking, Data: d})
		return
	}
	redirect(w, r, "/memos/"+m.ID, flashSaved)
}

// historyData is the revision history with a diff between two revisions.
type historyData struct {
	ID        string
	Revisions []service.RevisionInfo
	From, To  *service.RevisionInfo
	Title     diffView
	Body      diffView
	TooLarge  bool
	Changed   bool
}

func (h *handler) history(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	number := func(name string) int {
		n, _ := strconv.Atoi(r.URL.Query().Get(name))
		return n // 0, or out of range: the service picks the default
	}
	hist, err := h.svc.History(r.Context(), v.actor, id, number("from"), number("to"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := historyData{ID: id, Revisions: hist.Saved, From: &hist.From, To: &hist.To}
	d.Title = newDiffView(v, d.From.Title, d.To.Title)
	d.Body = newDiffView(v, d.From.Body, d.To.Body)
	d.TooLarge = d.Title.TooLarge || d.Body.TooLarge
	d.Changed = d.From.Marking != d.To.Marking || d.From.ContentHash != d.To.ContentHash
	h.render(w, r, v, http.StatusOK, pageHistory, &view{Title: v.T("Revision history"), Marking: h.strongest(d.From.Marking, d.To.Marking), Data: d})
}

// inviteData is the page for inviting signers.
type inviteData struct {
	M        *service.Memo
	Query    string
	Chosen   []service.User
	Found    []service.User
	Searched bool
	Error    *formError
}

func (h *handler) invitePage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	h.render(w, r, v, http.StatusOK, pageInvite, &view{Title: v.T("Invite signers"), Marking: m.Marking, Data: inviteData{M: m}})
}

func (h *handler) invite(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	chosen := cleanNames(f["usernames"])
	d := inviteData{Query: strings.TrimSpace(f.Get("q"))}
	var err error
	if f.Get("action") != "find" {
		_, err = h.svc.InviteSigners(r.Context(), v.actor, r.PathValue("id"), chosen)
		if err == nil {
			redirect(w, r, "/memos/"+r.PathValue("id"), flashInvited)
			return
		}
		fe, ok := asFormError(v, err)
		if !ok {
			h.fail(w, r, v, err)
			return
		}
		d.Error = fe
		d.Query = ""
	}
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	d.M = m
	var serr error
	d.Chosen, d.Found, serr = h.search(r, v, d.Query, chosen)
	if serr != nil {
		if fe, ok := asFormError(v, serr); ok {
			d.Error = fe
		} else {
			h.fail(w, r, v, serr)
			return
		}
	}
	// Leave out people who are already authors.
	d.Found = slices.DeleteFunc(d.Found, func(u service.User) bool {
		return slices.ContainsFunc(m.Authors, func(a service.Author) bool { return a.Username == u.Username })
	})
	d.Searched = d.Query != ""
	status := http.StatusOK
	if err != nil {
		status = formStatus(err)
	}
	h.render(w, r, v, status, pageInvite, &view{Title: v.T("Invite signers"), Marking: m.Marking, Data: d})
}

// signData is the signing page: the exact text, revision and hash.
type signData struct {
	memoData
	SignedThis bool
}

func (h *handler) signPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	h.showSign(w, r, v, http.StatusOK, m, nil)
}

func (h *handler) showSign(w http.ResponseWriter, r *http.Request, v *visit, status int, m *service.Memo, fe *formError) {
	d := signData{memoData: h.memoData(v, m), SignedThis: m.Mine != nil && m.Mine.Revision == m.Revision}
	d.Error = fe
	h.render(w, r, v, status, pageSign, &view{Title: v.T("Sign memo"), Marking: m.Marking, Data: d})
}

func (h *handler) sign(w http.ResponseWriter, r *http.Request, v *visit) {
	rev, _ := strconv.Atoi(r.PostForm.Get("revision"))
	_, err := h.svc.Sign(r.Context(), v.actor, r.PathValue("id"), rev)
	if err == nil {
		redirect(w, r, "/memos/"+r.PathValue("id"), flashSigned)
		return
	}
	if m, fe, ok := h.again(w, r, v, err); ok {
		h.showSign(w, r, v, formStatus(err), m, fe)
	}
}

func (h *handler) unsign(w http.ResponseWriter, r *http.Request, v *visit) {
	h.memoAction(w, r, v, "", flashUnsigned, func() error {
		_, err := h.svc.Unsign(r.Context(), v.actor, r.PathValue("id"))
		return err
	})
}

// submitData is the confirmation before submitting.
type submitData struct {
	memoData
	DrafterSigned bool
	Deadlines     channel.Deadlines
}

func (h *handler) submitPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	h.showSubmit(w, r, v, http.StatusOK, m, nil)
}

func (h *handler) showSubmit(w http.ResponseWriter, r *http.Request, v *visit, status int, m *service.Memo, fe *formError) {
	d := submitData{memoData: h.memoData(v, m)}
	d.Error = fe
	for _, a := range d.Signed {
		if a.Kind == string(channel.KindDrafter) {
			d.DrafterSigned = true
		}
	}
	// What the deadlines would be if it went now; the service sets the real ones.
	cfg := h.svc.Config()
	d.Deadlines = cfg.Profile.Deadlines(cfg.Calendar, h.svc.Now())
	h.render(w, r, v, status, pageSubmit, &view{Title: v.T("Submit memo"), Marking: m.Marking, Data: d})
}

func (h *handler) submit(w http.ResponseWriter, r *http.Request, v *visit) {
	rev, _ := strconv.Atoi(r.PostForm.Get("revision"))
	_, err := h.svc.Submit(r.Context(), v.actor, r.PathValue("id"), rev)
	if err == nil {
		redirect(w, r, "/memos/"+r.PathValue("id")+"/receipt", flashSubmitted)
		return
	}
	if m, fe, ok := h.again(w, r, v, err); ok {
		h.showSubmit(w, r, v, formStatus(err), m, fe)
	}
}

func (h *handler) receipt(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	if m.Receipt == nil {
		h.notFound(w, r, v)
		return
	}
	h.render(w, r, v, http.StatusOK, pageReceipt, &view{Title: v.T("Receipt"), Marking: m.Marking, Data: h.memoData(v, m)})
}

// receiptJSON downloads the receipt as the API gives it.
func (h *handler) receiptJSON(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	if m.Receipt == nil {
		h.notFound(w, r, v)
		return
	}
	h.download(w, r, v, "dissent-receipt-"+m.ID+".json", m.Receipt)
}

// download sends value as an indented JSON file named name.
func (h *handler) download(w http.ResponseWriter, r *http.Request, v *visit, name string, value any) {
	b, err := json.MarshalIndent(value, "", "  ")
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(append(b, '\n'))
}

// proofJSON downloads the proof of one of the memo's ledger entries, with
// its leaf and the latest signed checkpoint, for `dissent verify`. The
// service decides who may have it (MemoEntryProof): the memo's authors and
// office; anyone else finds nothing here.
func (h *handler) proofJSON(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		h.notFound(w, r, v)
		return
	}
	p, err := h.svc.MemoEntryProof(r.Context(), v.actor, id, index)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.download(w, r, v, "dissent-proof-"+id+"-"+strconv.FormatInt(index, 10)+".json", p)
}

// bundleJSON downloads the memo as a bundle (service.ExportMemo): its
// text, the signatures with each signer's key and the ledger entry that
// anchors it, and once submitted the submission's entry, for `dissent
// verify`. Any entitled reader may; the export is recorded.
func (h *handler) bundleJSON(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	bd, err := h.svc.ExportMemo(r.Context(), v.actor, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.download(w, r, v, "dissent-memo-"+id+".json", bd)
}

type accessData struct {
	ID      string
	Entries []service.AccessEntry
	Auditor bool   // reached from the audit page, without the memo
	Next    string // the cursor of the next page, if any
	Later   bool   // not the first page
}

func (h *handler) accessLog(w http.ResponseWriter, r *http.Request, v *visit) {
	h.showAccess(w, r, v, r.PathValue("id"), false)
}

func (h *handler) showAccess(w http.ResponseWriter, r *http.Request, v *visit, id string, auditor bool) {
	cursor := r.URL.Query().Get("cursor")
	page, err := h.svc.AccessLog(r.Context(), v.actor, id, cursor, listLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := accessData{ID: id, Entries: page.Items, Auditor: auditor, Next: page.NextCursor, Later: cursor != ""}
	h.render(w, r, v, http.StatusOK, pageAccess, &view{Title: v.T("Who read this memo"), Data: d})
}

// reasonKind is a step that needs a stated reason.
type reasonKind string

const (
	reasonWithdraw reasonKind = "withdraw"
	reasonReturn   reasonKind = "return"
	reasonAppeal   reasonKind = "appeal"
)

type reasonData struct {
	M      *service.Memo
	Kind   reasonKind
	Reason string
	Error  *formError
}

// reasonPage is the form for withdrawing or returning a memo. It names the
// memo, so that no one ends the wrong one.
func (h *handler) reasonPage(k reasonKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		m, ok := h.getMemo(w, r, v)
		if !ok {
			return
		}
		h.showReason(w, r, v, http.StatusOK, reasonData{M: m, Kind: k})
	}
}

func (h *handler) showReason(w http.ResponseWriter, r *http.Request, v *visit, status int, d reasonData) {
	title := "Withdraw memo"
	switch d.Kind {
	case reasonReturn:
		title = "Return memo"
	case reasonAppeal:
		title = "Appeal the reply"
	}
	h.render(w, r, v, status, pageReason, &view{Title: v.T(title), Marking: d.M.Marking, Data: d})
}

func (h *handler) withReason(w http.ResponseWriter, r *http.Request, v *visit, k reasonKind, note flash, step func(id, reason string) (*service.Memo, error)) {
	id := r.PathValue("id")
	d := reasonData{Kind: k, Reason: r.PostForm.Get("reason")}
	_, err := step(id, d.Reason)
	if err == nil {
		redirect(w, r, "/memos/"+id, note)
		return
	}
	var ok bool
	if d.M, d.Error, ok = h.again(w, r, v, err); ok {
		h.showReason(w, r, v, formStatus(err), d)
	}
}

func (h *handler) appeal(w http.ResponseWriter, r *http.Request, v *visit) {
	h.withReason(w, r, v, reasonAppeal, flashAppealed, func(id, reason string) (*service.Memo, error) {
		return h.svc.Appeal(r.Context(), v.actor, id, reason)
	})
}

func (h *handler) withdraw(w http.ResponseWriter, r *http.Request, v *visit) {
	h.withReason(w, r, v, reasonWithdraw, flashWithdrawn, func(id, reason string) (*service.Memo, error) {
		return h.svc.Withdraw(r.Context(), v.actor, id, reason)
	})
}
