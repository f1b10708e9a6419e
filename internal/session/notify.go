package session

import (
	"sync"
	"time"
)

// Changes tells waiters in this process that a session changed (its row or
// its payment's was written by a committed transaction here), so that an
// API call showing a command's outcome can wait for it instead of reading
// the session over and over. Changes made by another process are not
// seen: waiters still look again now and then (see WaitChange).
var changes = &notifier{waiting: map[string][]chan struct{}{}}

type notifier struct {
	mu      sync.Mutex
	waiting map[string][]chan struct{}
}

func (n *notifier) watch(id string) chan struct{} {
	c := make(chan struct{})
	n.mu.Lock()
	n.waiting[id] = append(n.waiting[id], c)
	n.mu.Unlock()
	return c
}

func (n *notifier) unwatch(id string, c chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cs := n.waiting[id]
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(n.waiting, id)
	} else {
		n.waiting[id] = cs
	}
}

func (n *notifier) notify(id string) {
	n.mu.Lock()
	cs := n.waiting[id]
	delete(n.waiting, id)
	n.mu.Unlock()
	for _, c := range cs {
		close(c)
	}
}

// Watch returns a channel closed at the next change of the session made
// in this process, and a function to stop watching. Watch before reading
// the session, so that no change can slip in between.
func Watch(sessionID string) (<-chan struct{}, func()) {
	c := changes.watch(sessionID)
	return c, func() { changes.unwatch(sessionID, c) }
}

// WaitChange waits until the channel from Watch is closed or d has passed.
func WaitChange(c <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
	case <-t.C:
	}
}
