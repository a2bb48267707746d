"""NetworkPolicy assertions for the edge chart: the site may call the hub, the hub may never call the site."""

from __future__ import annotations

import ipaddress
from typing import Any

Peer = dict[str, Any]


def _cidr(peer: Peer) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    block = peer.get("ipBlock")
    return ipaddress.ip_network(block["cidr"], strict=False) if block else None


def _selects_namespace(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a namespaceSelector (matchLabels only, as the chart renders) matches a namespace's labels."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        return True  # be conservative: an expression may match
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def peer_admits_hub(peer: Peer, hub_peers: list[Peer]) -> str | None:
    """Why `peer` (an ingress `from` entry) would admit the hub, or None when it cannot."""
    for hub in hub_peers:
        if peer == hub:
            return f"ingress peer {peer} equals the hub peer"
        hub_net, net = _cidr(hub), _cidr(peer)
        if hub_net is not None and net is not None and hub_net.version == net.version and hub_net.overlaps(net):
            return f"ingress ipBlock {net} overlaps the hub's {hub_net}"
        hub_ns = hub.get("namespaceSelector")
        if hub_ns is not None and "namespaceSelector" in peer:
            if peer["namespaceSelector"] in ({}, None):
                return f"ingress peer {peer} selects every namespace, the hub's too"
            if _selects_namespace(peer["namespaceSelector"], hub_ns.get("matchLabels") or {}):
                return f"ingress peer {peer} selects the hub's namespace"
    return None


def check_site_policies(policies: list[dict[str, Any]], hub_peers: list[Peer], hub_port: int) -> list[str]:
    """Problems with the rendered edge NetworkPolicies; empty when they hold the site's rules."""
    problems: list[str] = []
    agent = [p for p in policies if p["metadata"]["name"].endswith("-agent")]
    if len(agent) != 1:
        return [f"expected one agent NetworkPolicy, found {len(agent)}"]
    spec = agent[0]["spec"]
    if sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"]:
        problems.append(f"agent policyTypes {spec.get('policyTypes')} must be Ingress and Egress")
    to_hub = [
        r for r in spec.get("egress") or []
        if r.get("to") == hub_peers and any(p.get("port") == hub_port and p.get("protocol", "TCP") == "TCP" for p in r.get("ports") or [])
    ]
    if not to_hub:
        problems.append(f"no agent egress rule to the hub peers {hub_peers} on TCP {hub_port}")
    for r in spec.get("egress") or []:
        if not r.get("to"):
            problems.append(f"agent egress rule {r} has no 'to': it allows every destination")
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if not peers:
                problems.append(f"{policy['metadata']['name']}: ingress rule without 'from' admits everyone, the hub too")
                continue
            for peer in peers:
                why = peer_admits_hub(peer, hub_peers)
                if why:
                    problems.append(f"{policy['metadata']['name']}: {why}")
    return problems
