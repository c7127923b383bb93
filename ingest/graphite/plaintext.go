package graphite

import "strconv"

// AppendPlaintext appends p as a carbon plaintext line ("path value
// timestamp\n") to b: the tagged path as sent, the value in the shortest
// form that parses back to the same float64, and the timestamp in
// seconds, with the milliseconds as a fraction when there are any.
func AppendPlaintext(b []byte, p *Point) []byte {
	b = append(b, p.Path...)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Timestamp/1000, 10)
	if ms := p.Timestamp % 1000; ms != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(b, '\n')
}

// PlaintextTee is a Sink that hands every point to Next and renders it
// as a plaintext line into Lines: legacy carbon daemons relayed to take
// plaintext on :2003, so pickle frames are relayed as the lines of their
// accepted points. The owner sends Lines and truncates it after each
// frame.
type PlaintextTee struct {
	Next  Sink
	Lines []byte
}

// Point implements Sink.
func (t *PlaintextTee) Point(p *Point) {
	t.Next.Point(p)
	t.Lines = AppendPlaintext(t.Lines, p)
}
