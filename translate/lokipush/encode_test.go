package lokipush

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
)

func TestMarshalStreamsMatchesGeneratedCode(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	str := func(max int) string { return strings.Repeat(string(rune('a'+r.Intn(26))), r.Intn(max)) }
	for iter := range 200 {
		var req push.PushRequest
		for range r.Intn(4) {
			s := push.Stream{Labels: str(300)}
			for range r.Intn(20) {
				e := push.Entry{Line: str(20000)}
				switch r.Intn(4) {
				case 0: // zero time
				case 1:
					e.Timestamp = time.Unix(r.Int63n(4e9), 0)
				case 2:
					e.Timestamp = time.Unix(-r.Int63n(4e9), int64(r.Intn(1e9)))
				default:
					e.Timestamp = time.Unix(r.Int63n(4e9), int64(r.Intn(1e9)))
				}
				for range r.Intn(3) {
					e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: str(10), Value: str(200)})
				}
				s.Entries = append(s.Entries, e)
			}
			req.Streams = append(req.Streams, s)
		}
		want, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, got := marshalStreams(make([]byte, r.Intn(1000)), req.Streams)
		if !bytes.Equal(got, want) {
			t.Fatalf("iteration %d: encoding differs from push.PushRequest.Marshal (%d vs %d bytes)", iter, len(got), len(want))
		}
		var back push.PushRequest
		if err := back.Unmarshal(got); err != nil {
			t.Fatal(err)
		}
	}
}
