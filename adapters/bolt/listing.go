package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// ListSessionsByUser lists the user's sessions, newest first.
func (s *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return s.list(ctx, "by user", p, []scan{{bucketUser, indexPrefix(user)}}, nil)
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (s *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return s.list(ctx, "by profile", p, []scan{{bucketProfile, indexPrefix(profile)}}, nil)
}

// ListSessionsByServerInstance lists the server instance's sessions, newest first.
func (s *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	return s.list(ctx, "by server instance", p, []scan{{bucketInstance, indexPrefix(instanceID)}}, nil)
}

// ListSessionsByStatus lists the sessions whose effective status is status,
// newest first. The status index holds stored statuses, and a lapsed active
// session reads as expired: active scans the active keys and drops lapsed
// ones; expired merges the expired keys with the lapsed active ones.
func (s *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	return sessionPage(sessionRecords.listByStatus(ctx, s, string(status), status.Valid(), p))
}

// scan is one index range: the keys of bucket that start with prefix.
type scan struct {
	bucket []byte
	prefix []byte
}

// list reads one page of sessions; see listRecords.
func (s *Store) list(ctx context.Context, what string, p ports.Page, scans []scan, keep func(ports.Session) bool) (ports.SessionPage, error) {
	return sessionPage(listRecords(ctx, s, sessionRecords, what, p, scans, keep))
}

func sessionPage(items []ports.Session, next string, err error) (ports.SessionPage, error) {
	if err != nil {
		return ports.SessionPage{}, err
	}
	return ports.SessionPage{Sessions: items, Next: next}, nil
}

// listRecords reads one page from the union of scans, newest first, keeping
// the records (as they read now) that keep accepts; nil keeps all.
func listRecords[T any](ctx context.Context, s *Store, k recordKind[T], what string, p ports.Page, scans []scan, keep func(T) bool) ([]T, string, error) {
	resumeAt, resume, err := ports.CheckPage(p)
	if err != nil {
		return nil, "", fmt.Errorf("bolt: list %s %s: %w", k.plural, what, err)
	}
	var after []byte // position key of the last record already listed
	if resume {
		after = positionKey(resumeAt.CreatedAt, resumeAt.ID)
	}

	now := s.clock.Now()
	var found []T
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		found = found[:0]
		heads := make([]*head, 0, len(scans))
		for _, sc := range scans {
			heads = append(heads, startBefore(tx.Bucket(sc.bucket).Cursor(), sc.prefix, after))
		}
		records := tx.Bucket(k.bucket)
		// One more than the limit tells whether a next page exists.
		for len(found) <= p.Limit {
			h := newest(heads)
			if h == nil {
				return nil
			}
			id := h.id()
			h.advance()
			s.countReads(1)
			raw := records.Get([]byte(id))
			if raw == nil {
				continue // cannot happen: records and indexes change in one transaction
			}
			rec, err := k.decode(id, raw)
			if err != nil {
				return fmt.Errorf("bolt: list %s %s: %w", k.plural, what, err)
			}
			view := k.effective(rec, now)
			if keep == nil || keep(view) {
				found = append(found, view)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	items, next := ports.CutPage(found, p.Limit, k.position)
	return items, next, nil
}

// head walks one index range backward, from newest to oldest.
type head struct {
	cursor *bbolt.Cursor
	prefix []byte
	key    []byte // current key, nil once the range is done
}

// startBefore places a head on the newest key under prefix whose position
// is strictly older than after (nil: the newest key under prefix). Seeking
// to a position rather than to a stored key keeps paging right even when
// the last listed session has since changed index.
func startBefore(c *bbolt.Cursor, prefix, after []byte) *head {
	h := &head{cursor: c, prefix: prefix}
	var bound []byte
	if after != nil {
		bound = append(append([]byte{}, prefix...), after...)
	} else {
		bound = successor(prefix)
	}
	var k []byte
	if bound == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(bound); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	h.set(k)
	return h
}

func (h *head) set(k []byte) {
	if k != nil && bytes.HasPrefix(k, h.prefix) && len(k) > len(h.prefix)+positionKeyLen {
		h.key = k
		return
	}
	h.key = nil
}

func (h *head) advance() {
	k, _ := h.cursor.Prev()
	h.set(k)
}

// position is the key after the prefix: CreatedAt then ID, comparable
// across ranges.
func (h *head) position() []byte { return h.key[len(h.prefix):] }

func (h *head) id() string { return string(h.key[len(h.prefix)+positionKeyLen:]) }

// newest returns the head whose current key is newest, nil when all are done.
func newest(heads []*head) *head {
	var best *head
	for _, h := range heads {
		if h.key == nil {
			continue
		}
		if best == nil || bytes.Compare(h.position(), best.position()) > 0 {
			best = h
		}
	}
	return best
}

// successor returns the smallest key greater than every key starting with
// prefix, or nil when there is none (prefix is all 0xff).
func successor(prefix []byte) []byte {
	s := append([]byte{}, prefix...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}
