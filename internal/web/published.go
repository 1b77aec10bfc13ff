package web

import (
	"net/http"

	"github.com/dissent-channel/dissent/internal/service"
)

// Published cases (profiles that publish closed cases, the NRC's): a
// drafter agrees on the memo's page, the office publishes there, and
// everyone signed in reads them under "Published cases".

func (h *handler) agreeToPublish(w http.ResponseWriter, r *http.Request, v *visit) {
	h.memoAction(w, r, v, "", flashAgreed, func() error {
		_, err := h.svc.AgreeToPublish(r.Context(), v.actor, r.PathValue("id"))
		return err
	})
}

func (h *handler) publish(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	h.memoAction(w, r, v, "/published/"+id, flashPublished, func() error {
		_, err := h.svc.Publish(r.Context(), v.actor, id)
		return err
	})
}

type publishedData struct {
	Items []service.PublicationSummary
	Next  string
}

func (h *handler) published(w http.ResponseWriter, r *http.Request, v *visit) {
	page, err := h.svc.Publications(r.Context(), v.actor, r.URL.Query().Get("cursor"), listLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var marks []string
	for _, p := range page.Items {
		marks = append(marks, p.Marking)
	}
	h.render(w, r, v, http.StatusOK, pagePublished, &view{Title: v.T("Published cases"), Marking: h.strongest(marks...), Data: publishedData{Items: page.Items, Next: page.NextCursor}})
}

func (h *handler) publication(w http.ResponseWriter, r *http.Request, v *visit) {
	p, err := h.svc.GetPublication(r.Context(), v.actor, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pagePublication, &view{Title: v.T("Published case"), Marking: p.Marking, Data: p})
}
