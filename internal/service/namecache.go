package service

import (
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
)

// nameTTL is how long a node shows a user's display name without reading
// it again: another node's change of it shows here within this time.
const nameTTL = 5 * time.Second

// nameCache keeps users' names, by id, for the views that show them: a
// memo's page names its authors, its readers and the actors of its history,
// one query a page (nameBook), which was a tenth of a read's CPU. It
// decides no access: a view asks only for the names it may show, and
// they are in this node's memory for every request anyway. A username never
// changes and no account is deleted; a display name changes only by an
// administrator (UpdateUser), which forgets it on the node that made the
// change, and other nodes read it again within nameTTL.
type nameCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedName
	// forgets counts forget calls: names read before one (a view under
	// way while its display name changed) are not kept.
	forgets uint64
}

type cachedName struct {
	name store.UserName
	at   time.Time
}

func newNameCache(max int) *nameCache {
	return &nameCache{max: max, m: map[string]cachedName{}}
}

// get returns the names of ids it holds from within nameTTL of now, and
// the ids it does not.
func (c *nameCache) get(ids []string, now time.Time) (found map[string]store.UserName, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	found = make(map[string]store.UserName, len(ids))
	for _, id := range ids {
		if e, ok := c.m[id]; ok && now.Sub(e.at) < nameTTL && !now.Before(e.at) {
			found[id] = e.name
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// put keeps names read at now, as they were when mark was current, unless
// a name was forgotten since: what was read may be the name before the
// change.
func (c *nameCache) put(names map[string]store.UserName, now time.Time, mark uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != mark {
		return
	}
	if len(c.m)+len(names) > c.max {
		clear(c.m) // bounded memory whatever the number of users
	}
	for id, n := range names {
		c.m[id] = cachedName{name: n, at: now}
	}
}

// mark is the count of names forgotten so far, for put.
func (c *nameCache) mark() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.forgets
}

// forget drops a user's names (their display name changed).
func (c *nameCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets++
	delete(c.m, id)
}
