"""The outbound policy's judgement of addresses: every spelling of a forbidden one, and what the operator and
make run may allow."""

from __future__ import annotations

import ipaddress

import pytest

from synchub.outbound import OutboundPolicy, address_kind, literal_address

DEPLOYED = OutboundPolicy()
LISTED = OutboundPolicy(
    allowed_networks=(
        ipaddress.ip_network("10.0.0.0/16"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("169.254.0.0/16"),
    )
)
LOCAL = OutboundPolicy(allow_local=True)


@pytest.mark.parametrize(
    "host, kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("017700000001", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("2002:7f00:1::", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("10.0.3.4", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd12::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("93.184.216.34", "public"),
        ("2606:4700::1111", "public"),
    ],
)
def test_every_spelling_is_judged_by_the_address_it_reaches(host, kind):
    assert address_kind(literal_address(host)) == kind


def test_names_are_not_literals():
    assert literal_address("db.internal") is None and literal_address("localhost") is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "224.0.0.1", "10.0.0.5"])
def test_deployed_refuses_all_but_public_addresses(address):
    assert DEPLOYED.refusal(address) is not None
    assert DEPLOYED.refusal("93.184.216.34") is None


def test_the_operator_widens_private_ranges_only():
    assert LISTED.refusal("10.0.200.1") is None and LISTED.refusal("fd00::5") is None
    assert "AllowedPrivateNetworks" in LISTED.refusal("10.1.0.1")
    # loopback and link-local stay out even when listed
    assert LISTED.refusal("127.0.0.1") == "a loopback address"
    assert LISTED.refusal("169.254.169.254") == "a link-local address"


def test_make_run_allows_this_machine_and_private_networks_but_not_metadata():
    for allowed in ("127.0.0.1", "::1", "0.0.0.0", "10.9.8.7", "192.168.0.2"):
        assert LOCAL.refusal(allowed) is None, allowed
    assert LOCAL.refusal("169.254.169.254") == "a link-local address"
    assert LOCAL.static_refusal("localhost") is None and DEPLOYED.static_refusal("app.localhost")


def test_the_runtime_api_is_never_a_destination():
    policy = OutboundPolicy(allow_local=True, runtime_api="127.0.0.1:9001")
    assert policy.refusal("127.0.0.1", 9001) == "Lambda's runtime API"
    assert policy.refusal("127.0.0.1", 5432) is None


def test_static_refusal_names_the_host():
    assert DEPLOYED.static_refusal("0x7f000001") == "0x7f000001 is a loopback address"
    assert DEPLOYED.static_refusal("db.example.com") is None  # only resolving it can tell
