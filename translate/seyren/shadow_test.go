package seyren

import (
	"os"
	"reflect"
	"testing"
)

// The import's shadow/checks.json reads back as the same checks.
func TestShadowChecksRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/checks.json")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := ParseChecks(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Import(checks, Options{Translator: fixtureTranslations})
	if err != nil {
		t.Fatal(err)
	}
	copyData := out.File(ShadowChecksFile)
	if copyData == nil {
		t.Fatalf("no %s in the import", ShadowChecksFile)
	}
	back, err := ParseChecks(copyData)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, checks) {
		t.Fatalf("round trip differs:\n%+v\n%+v", back, checks)
	}
}
