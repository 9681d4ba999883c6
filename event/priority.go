package event

import (
	"fmt"
	"slices"
)

// Priority is the priority class of a document's chunks: it picks the
// topic they travel on (PriorityTopic), and the embed stage drains the
// topics with weighted shares.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities returns every priority, highest first.
func Priorities() []Priority { return []Priority{PriorityHigh, PriorityNormal, PriorityLow} }

// ParsePriority parses a --priority value ("" is normal).
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(s); p {
	case PriorityHigh, PriorityNormal, PriorityLow:
		return p, nil
	case "":
		return PriorityNormal, nil
	}
	return "", fmt.Errorf("unknown priority %q (want high, normal or low)", s)
}

// PriorityTopic is the topic that carries the ChunkParsed records of
// priority p: documents.parsed.high, documents.parsed (normal, and any
// unknown value) or documents.parsed.low.
func PriorityTopic(p Priority) string {
	switch p {
	case PriorityHigh:
		return TopicParsedHigh
	case PriorityLow:
		return TopicParsedLow
	}
	return TopicParsed
}

// ParsedTopics returns the topics that carry ChunkParsed, highest
// priority first: every consumer of chunks reads all of them.
func ParsedTopics() []string {
	out := make([]string, 0, 3)
	for _, p := range Priorities() {
		out = append(out, PriorityTopic(p))
	}
	return out
}

// IsParsedTopic says whether topic carries ChunkParsed (one of
// ParsedTopics).
func IsParsedTopic(topic string) bool { return slices.Contains(ParsedTopics(), topic) }

// HeaderPriority, on a DocumentRaw record, names the priority (a Priority
// value) of the document's chunks: the parse stage writes them to its
// PriorityTopic. Without it the priority is normal.
const HeaderPriority = "ragpipe.priority"
