package engine

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"pgregory.net/rapid"
)

// The watermark never passes a record that is not done, and once every
// record is done it is one past the last offset — whatever the completion
// order and however sparse the offsets.
func TestLedgerWatermarkProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 300).Draw(t, "n")
		l := newLedger()
		var entries []*entry
		off := int64(rapid.IntRange(0, 1000).Draw(t, "start"))
		for range n {
			off += int64(rapid.IntRange(1, 3).Draw(t, "gap")) // compaction and markers leave gaps
			e := &entry{rec: &kgo.Record{Offset: off, LeaderEpoch: 1}}
			entries = append(entries, e)
			l.push(e)
		}
		order := rapid.Permutation(indexes(n)).Draw(t, "completion order")
		for _, i := range order {
			entries[i].done = true
			l.advance(nil)
			if l.next >= 0 {
				for _, e := range entries {
					if e.rec.Offset < l.next && !e.done {
						t.Fatalf("watermark %d passes unfinished offset %d", l.next, e.rec.Offset)
					}
				}
			}
			// The watermark is as far as it may go: the next record is not done.
			if o := l.oldest(); o != nil && o.done {
				t.Fatalf("done record %d left behind the watermark", o.rec.Offset)
			}
		}
		if want := entries[n-1].rec.Offset + 1; l.next != want || l.len() != 0 {
			t.Fatalf("final watermark %d (len %d), want %d", l.next, l.len(), want)
		}
	})
}

func indexes(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
