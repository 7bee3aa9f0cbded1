package machine1

import (
	"fmt"
	"reflect"

	"github.com/godbus/dbus/v5"
)

var (
	messageType  = reflect.TypeOf(dbus.Message{})
	busErrorType = reflect.TypeOf((*dbus.Error)(nil))
)

// method is one exported bus method: a func whose first parameter is the
// dbus.Message and whose last result is *dbus.Error. It checks the call's
// signature itself, so a mismatch is InvalidArgs before any work.
type method struct {
	fn       reflect.Value
	in, out  dbus.Signature
	nIn, nOu int
}

// newMethod wraps fn, which must be func(dbus.Message, args...) (results..., *dbus.Error).
func newMethod(fn any) method {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func || t.NumIn() < 1 || t.In(0) != messageType ||
		t.NumOut() < 1 || t.Out(t.NumOut()-1) != busErrorType {
		panic(fmt.Sprintf("machine1: bad method type %s", t))
	}
	m := method{fn: v, nIn: t.NumIn() - 1, nOu: t.NumOut() - 1}
	for i := 1; i < t.NumIn(); i++ {
		m.in = appendSig(m.in, t.In(i))
	}
	for i := 0; i < t.NumOut()-1; i++ {
		m.out = appendSig(m.out, t.Out(i))
	}
	return m
}

func appendSig(s dbus.Signature, t reflect.Type) dbus.Signature {
	if t == encodedType {
		return dbus.ParseSignatureMust(s.String() + machineListSig)
	}
	return dbus.ParseSignatureMust(s.String() + dbus.SignatureOfType(t).String())
}

// DecodeArguments implements dbus.ArgumentDecoder: the body must have
// exactly the method's signature.
func (m method) DecodeArguments(_ *dbus.Conn, _ string, msg *dbus.Message, body []any) ([]any, error) {
	got, _ := msg.Headers[dbus.FieldSignature].Value().(dbus.Signature)
	if got.String() != m.in.String() {
		return nil, busError(fmt.Errorf("invalid arguments %q, expecting %q: %w", got.String(), m.in.String(), errInvalidArgs))
	}
	args := make([]any, m.nIn+1)
	args[0] = msg
	ptrs := make([]any, m.nIn)
	for i := range ptrs {
		ptrs[i] = reflect.New(m.fn.Type().In(i + 1)).Interface()
		args[i+1] = ptrs[i]
	}
	if err := dbus.Store(body, ptrs...); err != nil {
		return nil, busError(fmt.Errorf("%v: %w", err, errInvalidArgs))
	}
	return args, nil
}

// Call runs the method. args[0] is the *dbus.Message, the rest pointers.
func (m method) Call(args ...any) ([]any, error) {
	in := make([]reflect.Value, len(args))
	in[0] = reflect.ValueOf(*args[0].(*dbus.Message))
	for i := 1; i < len(args); i++ {
		in[i] = reflect.ValueOf(args[i]).Elem()
	}
	ret := m.fn.Call(in)
	if e := ret[len(ret)-1].Interface().(*dbus.Error); e != nil {
		return nil, e
	}
	out := make([]any, len(ret)-1)
	for i := range out {
		out[i] = ret[i].Interface()
	}
	return out, nil
}

// NumArguments implements dbus.Method.
func (m method) NumArguments() int { return m.nIn + 1 }

// NumReturns implements dbus.Method.
func (m method) NumReturns() int { return m.nOu }

// ArgumentValue implements dbus.Method.
func (m method) ArgumentValue(i int) any { return reflect.Zero(m.fn.Type().In(i)).Interface() }

// ReturnValue implements dbus.Method.
func (m method) ReturnValue(i int) any { return reflect.Zero(m.fn.Type().Out(i)).Interface() }

// boundMethod is a method of a Server: Call writes the reply itself
// (see wire.go) and tells godbus not to.
type boundMethod struct {
	method
	s *Server
}

// Call runs the method and replies.
func (b boundMethod) Call(args ...any) ([]any, error) {
	out, err := b.method.Call(args...)
	if err != nil {
		return nil, err
	}
	msg := args[0].(*dbus.Message)
	if msg.Flags&dbus.FlagNoReplyExpected != 0 {
		return nil, nil
	}
	if err := b.s.sock.reply(sender(*msg), msg.Serial(), b.out, out); err != nil {
		b.s.opts.Log.Printf("warning: reply: %v", err)
		return nil, busError(err)
	}
	// Replied: godbus sends no reply to a call that expects none.
	msg.Flags |= dbus.FlagNoReplyExpected
	return nil, nil
}

// boundIface is an iface of a Server.
type boundIface struct {
	i iface
	s *Server
}

// LookupMethod implements dbus.Interface.
func (b boundIface) LookupMethod(name string) (dbus.Method, bool) {
	m, ok := b.i[name]
	return boundMethod{m, b.s}, ok
}

// boundObject is an object of a Server.
type boundObject struct {
	o object
	s *Server
}

// LookupInterface implements dbus.ServerObject.
func (b boundObject) LookupInterface(name string) (dbus.Interface, bool) {
	i, ok := b.o.lookup(name)
	return boundIface{i, b.s}, ok
}

// iface is a bus interface: its methods by name.
type iface map[string]method

// object is a bus object: its interfaces by name.
type object map[string]iface

// lookup returns the interface called name. The empty name (a call
// without interface) searches every interface.
func (o object) lookup(name string) (iface, bool) {
	if name != "" {
		i, ok := o[name]
		return i, ok
	}
	all := iface{}
	for _, i := range o {
		for n, m := range i {
			all[n] = m
		}
	}
	return all, true
}

// missing is the object at an unknown path: every call is UnknownObject,
// whatever its arguments.
type missing struct{ path dbus.ObjectPath }

// LookupInterface implements dbus.ServerObject.
func (m missing) LookupInterface(string) (dbus.Interface, bool) { return m, true }

// LookupMethod implements dbus.Interface.
func (m missing) LookupMethod(string) (dbus.Method, bool) { return m, true }

// DecodeArguments implements dbus.ArgumentDecoder by failing.
func (m missing) DecodeArguments(*dbus.Conn, string, *dbus.Message, []any) ([]any, error) {
	return nil, busError(fmt.Errorf("unknown object %q: %w", m.path, errUnknownObject))
}

// Call implements dbus.Method; DecodeArguments never lets it run.
func (m missing) Call(...any) ([]any, error) { return nil, busError(errUnknownObject) }

// NumArguments implements dbus.Method.
func (missing) NumArguments() int { return 0 }

// NumReturns implements dbus.Method.
func (missing) NumReturns() int { return 0 }

// ArgumentValue implements dbus.Method.
func (missing) ArgumentValue(int) any { return nil }

// ReturnValue implements dbus.Method.
func (missing) ReturnValue(int) any { return nil }
