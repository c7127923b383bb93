package config

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

var (
	yamlMarshalerType = reflect.TypeFor[yaml.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodeYAML renders v the way the decoder reads it: the same keys in
// declaration order, durations as "10s", sizes as "32MiB", secrets redacted.
// The output parses back to the same value (except secrets).
func encodeYAML(v any) ([]byte, error) {
	n, err := encodeNode(reflect.ValueOf(v))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func encodeNode(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t == durationType:
		return scalarNode("!!str", model.Duration(time.Duration(v.Int())).String()), nil
	case t.Implements(yamlMarshalerType):
		out, err := v.Interface().(yaml.Marshaler).MarshalYAML()
		if err != nil {
			return nil, err
		}
		n := &yaml.Node{}
		if err := n.Encode(out); err != nil {
			return nil, err
		}
		return n, nil
	case t.Implements(textMarshalerType):
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, err
		}
		return scalarNode("!!str", string(text)), nil
	}

	switch t.Kind() {
	case reflect.String:
		n := scalarNode("!!str", v.String())
		if strings.HasPrefix(n.Value, ":") {
			n.Style = yaml.DoubleQuotedStyle // ":8125" is valid plain YAML but reads like a typo
		}
		return n, nil
	case reflect.Bool:
		return scalarNode("!!bool", strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalarNode("!!int", strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalarNode("!!int", strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		// Go's shortest form, which strconv.ParseFloat reads back exactly
		// (NaN and +Inf come out tagged !!float, which the decoder ignores).
		return scalarNode("!!float", strconv.FormatFloat(v.Float(), 'g', -1, t.Bits())), nil
	case reflect.Pointer:
		if v.IsNil() {
			return scalarNode("!!null", "null"), nil
		}
		return encodeNode(v.Elem())
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		si := structInfoOf(t)
		for _, f := range si.fields {
			fv := v.FieldByIndex(f.index)
			if how := t.FieldByIndex(f.index).Tag.Get("redact"); how != "" {
				fv = redactValue(fv, how)
			}
			vn, err := encodeNode(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			n.Content = append(n.Content, scalarNode("!!str", f.name), vn)
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle // "[]" rather than an empty block
		}
		for i := range v.Len() {
			en, err := encodeNode(v.Index(i))
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			n.Content = append(n.Content, en)
		}
		return n, nil
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			en, err := encodeNode(v.MapIndex(k))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.String(), err)
			}
			n.Content = append(n.Content, scalarNode("!!str", k.String()), en)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot render type %s", t)
}
