"""One reply check (ipvs._netlink.Reply) for every Python reader of replies:
the transport's Exchange and the twin's dump walk raise the same
DecodeError for the same bad reply, and so does the C decoder's own walk
(run on the constants _decode_c hands it)."""
import pytest

from ipvs import _base, _netlink as nl

from test_decoder_vectors import ERROR_VECTORS, IMPLS, PID, SEQ, run_dump

# the reply-level failures (the rest are about what a record holds)
REPLY_CODES = {_base.E_MSG_LEN, _base.E_AFTER_DONE, _base.E_SEQ, _base.E_SHORT_ERROR,
               _base.E_OVERRUN, _base.E_TRAILING}
REPLY_VECTORS = [v for v in ERROR_VECTORS if v[3] in {_base.ERRORS[c] for c in REPLY_CODES}]


def test_every_reply_check_has_a_vector():
    assert {v[3] for v in REPLY_VECTORS} == {_base.ERRORS[c] for c in REPLY_CODES}


@pytest.mark.parametrize("name,kind,buf,message", REPLY_VECTORS, ids=[v[0] for v in REPLY_VECTORS])
def test_exchange_fails_as_the_decoders_do(name, kind, buf, message):
    with pytest.raises(nl.DecodeError) as e:
        nl.Exchange(SEQ, PID, dump=True).feed(buf)
    assert str(e.value) == message


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,kind,buf,message", REPLY_VECTORS, ids=[v[0] for v in REPLY_VECTORS])
def test_decoders_fail_as_the_exchange_does(impl, name, kind, buf, message):
    with pytest.raises(nl.DecodeError) as e:
        run_dump(impl, kind, buf)
    assert str(e.value) == message


def test_reply_state():
    r = nl.Reply(SEQ, PID)
    done = nl.encode_message(nl.NLMSG_DONE, nl.NLM_F_DUMP_INTR, SEQ, b"\xfe\xff\xff\xff", PID)
    noop = nl.encode_message(nl.NLMSG_NOOP, 0, SEQ, b"", PID)
    assert [m[0] for m in r.messages(noop + done)] == [nl.NLMSG_DONE]
    assert (r.done, r.interrupted, r.error) == (True, True, 2)


def test_settle_reports_a_fast_decoders_outcome():
    ex = nl.Exchange(SEQ, PID, dump=True)
    ex.settle(False, True, 0)  # flagged, not yet complete: go on reading
    assert not ex.done
    with pytest.raises(nl.DumpInterrupted):
        ex.settle(True, False, 0)
    with pytest.raises(nl.NetlinkError) as e:
        nl.Exchange(SEQ, PID, dump=True).settle(True, False, 17)
    assert e.value.errno == 17
