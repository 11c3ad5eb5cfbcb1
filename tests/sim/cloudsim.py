#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated Alibaba Cloud for the eip-agent tests (standard library only).

One HTTPS port serves VPC (2016-04-28), ECS (2014-05-26) and STS (2015-04-01):
requests are routed by their Version (RPC `Version` parameter or V3
`x-acs-version` header) and Action, whatever the Host header says. Both request
styles are verified for real (RPC HMAC-SHA1, V3 ACS3-HMAC-SHA256; see
cloudsim_sign.py). Every ECS node gets its own plain-HTTP instance metadata
server (start_metadata); virtual (ECI-style) nodes have none.

Actions: AllocateEipAddress, AssociateEipAddress, UnassociateEipAddress,
ReleaseEipAddress, DescribeEipAddresses, ModifyEipAddressAttribute,
AddCommonBandwidthPackageIp, RemoveCommonBandwidthPackageIp, TagResources,
UntagResources, ListTagResources (VPC); DescribeNetworkInterfaces (ECS);
AssumeRoleWithOIDC (STS, anonymous).

docs/simulators.md (section cloudsim) is the full description: the /__sim
endpoints, the configuration keys and their defaults, the fault presets, the
per-action rate limits, every error code with its HTTP status and the reference
it follows, and the known deviations. In short:

  GET    /__sim/eips                  {"eips": [EipAddress items + _seq, _clientToken,
                                       _pendingInSeconds, _boundIp, _cbwpPending, _history],
                                       "quota", "bandwidthPackages", "released"}
  DELETE /__sim/eips/<id>; POST /__sim/eips/<id>/unassociate; POST /__sim/eips/<id>/tags
  GET    /__sim/enis, /__sim/nodes;   POST /__sim/nodes, /__sim/pod-ips; DELETE /__sim/pod-ips/<ip>
  GET    /__sim/calls[?action=A&since=T], DELETE /__sim/calls  (the call log, never secrets)
  POST   /__sim/faults                one fault or a list: {"action", "error_rate", "code",
                                       "http_status", "message", "latency_ms", "hang", "reset",
                                       "count", "async_fail", "preset": FAULT_PRESETS name}
  GET|DELETE /__sim/faults
  GET|POST /__sim/config              Cloud.config: associate_delay, unassociate_delay,
                                       release_delay, cbwp_delay (1.0 s each), delay_jitter
                                       (0.2), rate_limits (RATE_LIMITS) per rate_window (60 s),
                                       qps, eip_quota, timestamp_skew, clock_offset, metadata
                                       and credential settings, oidc trust, ...

State survives a restart (DIR/state.json) so simcluster can be restarted.

    /usr/bin/python3 tests/sim/cloudsim.py --dir DIR [--port N] [--nodes N]

starts it standalone, writes DIR/cloud.json (Cloud.info()) and prints `ready`.
"""
import argparse
import base64
import collections
import datetime
import hashlib
import heapq
import ipaddress
import json
import math
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudsim_sign as sign  # noqa: E402
import simtls  # noqa: E402

VPC_VERSION = "2016-04-28"
ECS_VERSION = "2014-05-26"
STS_VERSION = "2015-04-01"
PRODUCTS = {VPC_VERSION: "Vpc", ECS_VERSION: "Ecs", STS_VERSION: "Sts"}
ACCOUNT_ID = "1234567890123456"
DEFAULT_ACCESS_KEYS = {"LTAIsimAccessKey0001": "simSecret0001"}
DEFAULT_RESOURCE_GROUP = "rg-acfmsimdefault0"
DEFAULT_RAM_ROLE = "EipAgentSimRole"
ISPS = ("BGP", "BGP_PRO", "ChinaTelecom", "ChinaUnicom", "ChinaMobile", "ChinaTelecom_L2",
        "ChinaUnicom_L2", "ChinaMobile_L2", "BGP_FinanceCloud", "BGP_International")
EIP_STATES = ("Associating", "Unassociating", "InUse", "Available", "Releasing")
# Parameters that are part of the request envelope, not of the operation: they
# never take part in ClientToken comparison and secrets never reach the call log.
COMMON_PARAMS = {"Action", "Version", "Format", "AccessKeyId", "Signature", "SignatureMethod",
                 "SignatureVersion", "SignatureNonce", "SignatureType", "Timestamp",
                 "SecurityToken", "ClientToken", "RegionId"}
SECRET_PARAMS = {"Signature", "SecurityToken", "OIDCToken", "AccessKeySecret"}

# code -> (HTTP status, message). Statuses and messages follow the published
# error tables of the VPC/ECS/STS references and the common error codes.
ERRORS = {
    "MissingParameter": (400, 'The input parameter "{}" that is mandatory for processing this request is not supplied.'),
    "InvalidParameter": (400, "The specified parameter is not valid."),
    "InvalidParameter.Format": (400, "Specified parameter Format is not valid."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "InvalidAction.NotFound": (404, "Specified api is not found, please check your url and method."),
    "InvalidRegionId.NotFound": (404, "The specified RegionId does not exist in our records."),
    "Forbidden.RegionNotFound": (404, "Specified region is not found during access authentication."),
    "InvalidInstanceId.NotFound": (400, "Specified instance does not exist."),
    "InvalidIAssociatedInstanceType.ValueNotSupported": (400, "The specified value of AssociatedInstanceType is not supported."),
    "InvalidChargeType.ValueNotSupported": (400, "The specified ChargeType is not supported."),
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation. server string to sign is:{}"),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidSignatureMethod": (400, "Specified signature method is not supported."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "MissingSecurityToken": (400, "SecurityToken is mandatory for this action."),
    "InvalidSecurityToken.Expired": (400, "Specified SecurityToken is expired."),
    "InvalidSecurityToken.MismatchWithAccessKey": (400, "Specified SecurityToken mismatch with the AccessKey."),
    "InvalidSecurityToken.Malformed": (400, "Specified SecurityToken is malformed."),
    "Forbidden.RAM": (403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling": (400, "Request was denied due to request throttling."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error, exception or failure."),
    "QuotaExceeded.Eip": (400, "Elastic IP address quota exceeded"),
    "IncorrectEipStatus": (400, "Current elastic IP status does not support this operation."),
    "InvalidAllocationId.NotFound": (404, "Specified allocation ID is not found"),
    "InvalidAssociation.Duplicated": (400, "Specified instance already is associated."),
    "InvalidInstanId.NotFound": (404, "Specified instance does not exist."),
    "InvalidInstanceType.ValueNotSupported": (400, "The specified value of InstanceType is not supported."),
    "IncorrectInstanceStatus": (400, "Current instance status does not support this operation."),
    "InvalidBindingStatus": (400, "The eip binding status invalid."),
    "TaskConflict": (400, "The eip operate too frequent, TaskConflict."),
    "TaskConflict.AssociateGlobalAccelerationInstance": (400, "Operate too frequent."),
    "OperationFailed.SystemBusy": (400, "Operation failed because system is busy."),
    "OperationConflict": (409, "Request was denied due to conflict with a previous request."),
    "Operation.Conflict": (403, "The operation may conflicts with others."),
    "Forbidden.ChargeTypeIsPrepaid": (400, "It's forbidden to release a prepaid EIP"),
    "IdempotentParameterMismatch": (400, "The request uses the same client token as a previous, but non-identical request. Do not reuse a client token with different requests, unless the requests are identical."),
    "InvalidBandwidthPackageId.NotFound": (404, "The specified bandwidthPackageId does not exist in our records."),
    "InvalidIpInstanceId.NotFound": (404, "The specified Eip InstanceId does not exist in our records."),
    "IpInstanceId.AlreadyInBandwidthPackage": (400, "The specified Eip InstanceId already in bandwidthPackage."),
    "IpInstanceId.ChargeType.NotSupport": (400, "The specified Eip instance is PrePaid type, Cannot add to BandwidthPackage."),
    "IncorrectStatus.Eip": (400, "Eip status error."),
    "Mismatch.CbwpIspAndEipIsp": (400, "The CbwpIsp and EipIsp are mismatched."),
    "OperationUnsupported.IpNotInCbwp": (400, "The specified eip not exist in the commonBandwidthPackage."),
    "InvalidResourceId.NotFound": (404, "The specified resource does not exist."),
    "InvalidTagKey": (400, "The tag keys are not valid."),
    "InvalidTagValue": (400, "The tag values are not valid."),
    "Forbidden.TagKey.Duplicated": (400, "The specified tag key already exists."),
    "SizeLimitExceeded.TagNum": (400, "The maximum number of tags is exceeded."),
    "SizeLimitExceeded.ResourceId": (400, "The maximum number of resource IDs is exceeded."),
    "QuotaExceeded.TagNum": (400, "Custom Tags quota exceeded"),
    "EntityNotExist.Role": (404, "The specified Role does not exist."),
    "EntityNotExist.OIDCProvider": (404, "The specified OIDC provider does not exist."),
    "AuthenticationFail.OIDCToken.Invalid": (400, "The OIDC token is invalid: {}"),
    "AuthenticationFail.OIDCToken.Expired": (400, "This JsonWebToken is expired."),
    "AuthenticationFail.OIDCToken.IssuerNotMatch": (400, "The issuer of the OIDC token does not match the OIDC provider."),
    "AuthenticationFail.OIDCToken.AudienceNotMatch": (400, "The audience of the OIDC token does not match the client IDs of the OIDC provider."),
    "InvalidParameter.DurationSeconds": (400, "The DurationSeconds is invalid."),
    "InvalidParameter.RoleSessionName": (400, "The parameter RoleSessionName is wrongly formed."),
}


# Per-account, per-action API rate limits (calls per rate_window seconds, 60). The
# first five are the "API rate limits" table of the EIP quotas page
# (https://www.alibabacloud.com/help/en/eip/quotas); the others are not in any table
# we could read and are set to the lowest published EIP value (docs/simulators.md).
# A limit of None (or 0) means unlimited. Real limits are per region, per API, per
# account (ParentUid): every key of the simulator belongs to one account.
RATE_LIMITS = {
    "AllocateEipAddress": 120, "AssociateEipAddress": 120, "UnassociateEipAddress": 120,
    "DescribeEipAddresses": 600, "ReleaseEipAddress": 600,
    "ModifyEipAddressAttribute": 120, "AddCommonBandwidthPackageIp": 120,
    "RemoveCommonBandwidthPackageIp": 120, "TagResources": 120, "UntagResources": 120,
    "ListTagResources": 120, "DescribeNetworkInterfaces": None, "AssumeRoleWithOIDC": None,
}

# POST /__sim/faults {"preset": NAME, "action": A, "count": n, ...}: the error the
# real service answers, with its documented HTTP status and message. status_by_action
# covers codes whose status differs between the error tables of two actions.
FAULT_PRESETS = {
    "TaskConflict": {"code": "TaskConflict", "message_by_action": {
        "AddCommonBandwidthPackageIp": "The operation is too frequent, TaskConflict."}},
    "TaskConflict.AssociateGlobalAccelerationInstance": {
        "code": "TaskConflict.AssociateGlobalAccelerationInstance"},
    "OperationFailed.SystemBusy": {"code": "OperationFailed.SystemBusy",
                                   "status_by_action": {"AllocateEipAddress": 500}},
    "OperationConflict": {"code": "OperationConflict"},
    "Operation.Conflict": {"code": "Operation.Conflict"},
    "ServiceUnavailable": {"code": "ServiceUnavailable"},
    "InternalError": {"code": "InternalError"},
    "Throttling.User": {"code": "Throttling.User"},
    "Throttling": {"code": "Throttling"},
    "QuotaExceeded.Eip": {"code": "QuotaExceeded.Eip", "action": "AllocateEipAddress"},
    "LatencySpike": {"latency_ms": 3000},
    "Hang": {"hang": True},
    "Reset": {"reset": True},
}


class ApiError(Exception):
    def __init__(self, code, message=None, status=None, arg=None, headers=None):
        st, msg = ERRORS.get(code, (400, code))
        if message is None:
            message = msg.format(arg) if "{}" in msg else msg
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status or st
        self.message = message
        self.headers = headers or {}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.datetime.strptime(value, fmt).replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except (ValueError, TypeError):
            pass
    return None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def to_xml(name, value):
    if isinstance(value, dict):
        return f"<{name}>" + "".join(to_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return "".join(to_xml(name, v) for v in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{xml_escape(str(value))}</{name}>"


class Cloud:
    """The simulated region. All state is guarded by self.lock; EIP transitions
    (Associating -> InUse, Unassociating -> Available, Releasing -> gone) are due
    at a deadline and applied lazily by tick(), which every entry point calls."""

    def __init__(self, state_dir, region="cn-hangzhou", vpc_id="vpc-sim0001", eip_quota=20,
                 access_keys=None, pod_cidr="127.0.10.0/24", eip_cidr="203.0.113.0/24",
                 seed=None, node_cidr="127.0.9.0/24"):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.region = region
        self.vpc_id = vpc_id
        self.access_keys = dict(access_keys if access_keys is not None else DEFAULT_ACCESS_KEYS)
        self.lock = threading.RLock()
        self.rand = random.Random(seed)
        # per-call jitter of the asynchronous tasks: its own stream, so the same seed
        # gives the same delays whatever else drew random numbers in between
        self._jitter_rand = random.Random(f"{seed}/jitter" if seed is not None else None)
        self.config = {
            # asynchronous tasks (seconds), each drawn from delay * (1 +- delay_jitter)
            "associate_delay": 1.0,
            "unassociate_delay": 1.0,
            "release_delay": 1.0,
            "cbwp_delay": 1.0,
            "delay_jitter": 0.2,
            "eip_quota": eip_quota,
            "rate_limits": dict(RATE_LIMITS),  # calls per rate_window per account and action
            "rate_window": 60.0,
            "qps": {},  # extra per-second limits for tests: {"*": n, "<Action>": n}
            "timestamp_skew": 900,
            "metadata_hardened_required": False,
            "allow_primary_eni_association": False,
            "eni_private_ip_filter_includes_primary": False,
            "ram_credential_lifetime": 3600,
            "ram_credential_rotate_before": None,  # default: half the lifetime
            "sts_default_duration": 3600,
            "sts_duration_override": None,  # seconds: every STS credential lives this long
            "forbidden_actions": [],  # actions answered with Forbidden.RAM (403) for every key
            "clock_offset": 0.0,
            "oidc": {
                "provider_arn": f"acs:ram::{ACCOUNT_ID}:oidc-provider/ack-rrsa-sim",
                "issuer": "https://oidc-ack-sim.cn-hangzhou.aliyuncs.com/csim0001",
                "audiences": ["sts.aliyuncs.com"],
                "role_arns": [f"acs:ram::{ACCOUNT_ID}:role/eip-agent-sim"],
                "subjects": [],  # empty: any subject
            },
        }
        self._pod_net = ipaddress.ip_network(pod_cidr)
        self._node_net = ipaddress.ip_network(node_cidr)
        self._eip_net = ipaddress.ip_network(eip_cidr)
        self.pools = {"pippool-sim0001": {"PublicIpAddressPoolId": "pippool-sim0001",
                                          "net": ipaddress.ip_network("198.51.100.0/24")}}
        self.bandwidth_packages = {
            "cbwp-sim0001": {"BandwidthPackageId": "cbwp-sim0001", "Bandwidth": "200", "ISP": "BGP",
                             "Name": "sim-cbwp-1", "PublicIpAddresses": [], "Status": "Available"},
            "cbwp-sim0002": {"BandwidthPackageId": "cbwp-sim0002", "Bandwidth": "50", "ISP": "BGP",
                             "Name": "sim-cbwp-2", "PublicIpAddresses": [], "Status": "Available"},
        }
        self.nodes = {}
        self.instances = {}
        self.enis = {}
        self.eips = {}
        self.released = []  # the last 1000 EIPs released: AllocationId, IpAddress, _history
        self._eip_seq = 0
        self._used_public = set()
        self._used_private = set()
        self._cursor = {}
        self._allocators = {}  # (network, rotate) -> cursor and free list, see _next_ip
        self.client_tokens = {}
        self.nonces = {}
        self.sts_keys = {}
        self.metadata_tokens = {}
        self.calls = []
        self.faults = []
        self._windows = collections.defaultdict(collections.deque)
        self._servers = []
        self._stop = threading.Event()
        self.port = None
        self.metadata_ports = {}
        self.ca_file = None
        self._host = "127.0.0.1"
        self._tl = threading.local()
        self._ids = set()
        self._seed = seed
        self.generation = 0
        self.state_file = os.path.join(self.state_dir, "state.json")
        if os.path.exists(self.state_file):
            self._load()

    # ----- persistence: a restarted simulator keeps its EIPs, ENIs and keys -----
    _PERSISTED = ("nodes", "instances", "enis", "eips", "bandwidth_packages", "sts_keys",
                  "_eip_seq", "_cursor", "generation")

    def _load(self):
        with open(self.state_file) as f:
            st = json.load(f)
        for k in self._PERSISTED:
            if k in st:
                setattr(self, k, st[k])
        self._used_public = set(st.get("used_public", []))
        self._used_private = set(st.get("used_private", []))
        self._ids = set(st.get("ids", []))
        self.client_tokens = {tuple(k.split("\n", 1)): v for k, v in st.get("client_tokens", {}).items()}
        self.generation += 1
        # a fresh id sequence per generation: ids of the last run are never handed out again
        self.rand.seed(f"{self._seed}/{self.generation}" if self._seed is not None else None)

    def save(self):
        """Writes DIR/state.json (atomically). Called after every change."""
        with self.lock:
            st = {k: getattr(self, k) for k in self._PERSISTED}
            st.update(used_public=sorted(self._used_public), used_private=sorted(self._used_private),
                      ids=sorted(self._ids),
                      client_tokens={f"{a}\n{t}": v for (a, t), v in self.client_tokens.items()})
            tmp = self.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, self.state_file)

    # ----- time, ids --------------------------------------------------------
    def now(self):
        return time.time() + self.config["clock_offset"]

    def _hex(self, n):
        with self.lock:
            return "".join(self.rand.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))

    def _new_id(self, prefix, n):
        with self.lock:
            while True:
                i = prefix + self._hex(n)
                if i not in self._ids:
                    self._ids.add(i)
                    return i

    def _request_id(self):
        with self.lock:
            h = "%032X" % self.rand.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _mac(self):
        with self.lock:
            while True:
                mac = "00:16:3e:" + ":".join("%02x" % self.rand.randrange(256) for _ in range(3))
                if not any(e["MacAddress"] == mac for e in self.enis.values()):
                    return mac

    def _next_ip(self, net, used, rotate=False):
        """A free host address of net, O(1) amortised (no walk over the network).
        rotate=False (private addresses): the lowest free one, as before: a cursor over
        never-used addresses plus a heap of released ones below it. rotate=True (public
        addresses): never-used addresses first, continuing after the last one handed out
        (self._cursor, persisted), then released ones oldest first, so a released address
        is not handed out again at once, as in the real pool."""
        a = self._allocator(net, used, rotate)
        for _ in range(2):
            if rotate:
                while a["next"] < a["count"]:
                    off = a["next"]
                    a["next"] += 1
                    ip = self._addr_at(a, off)
                    if ip not in used:
                        return self._take(a, net, used, ip, rotate)
                while a["free"]:
                    ip = a["free"].popleft()
                    if ip not in used:
                        return self._take(a, net, used, ip, rotate)
            else:
                while a["free"]:
                    off = heapq.heappop(a["free"])
                    ip = self._addr_at(a, off)
                    if ip not in used and not self._reserved(net, ip):
                        return self._take(a, net, used, ip, rotate)
                while a["next"] < a["count"]:
                    off = a["next"]
                    a["next"] += 1
                    ip = self._addr_at(a, off)
                    if ip not in used and not self._reserved(net, ip):
                        return self._take(a, net, used, ip, rotate)
            # everything handed out once: one full pass finds what went back by other ways
            self._rescan(a, net, used, rotate)
        raise ApiError("InternalError", "simulated address range exhausted")

    @staticmethod
    def _reserved(net, ip):
        return net.prefixlen <= 24 and ip.endswith(".1")  # .1 is the vSwitch gateway, as in a real VPC

    @staticmethod
    def _addr_at(a, off):
        return str(ipaddress.ip_address(a["base"] + off))

    def _allocator(self, net, used, rotate):
        key = (str(net), rotate)
        a = self._allocators.get(key)
        if a is None:
            hosts = net.num_addresses - 2 if net.num_addresses > 2 else net.num_addresses
            base = int(net.network_address) + (1 if net.num_addresses > 2 else 0)
            a = {"net": net, "base": base, "count": hosts, "next": 0, "used": used,
                 "free": collections.deque() if rotate else []}
            if rotate:
                last = self._cursor.get(str(net))
                if last:
                    try:
                        a["next"] = min(hosts, max(0, int(ipaddress.ip_address(last)) - base + 1))
                    except ValueError:
                        pass
            self._allocators[key] = a
        return a

    def _take(self, a, net, used, ip, rotate):
        used.add(ip)
        if rotate:
            self._cursor[str(net)] = ip
        return ip

    def _rescan(self, a, net, used, rotate):
        if rotate:
            a["free"] = collections.deque(self._addr_at(a, off) for off in range(a["count"])
                                          if self._addr_at(a, off) not in used)
        else:
            a["free"] = [off for off in range(a["next"]) if self._addr_at(a, off) not in used]
            heapq.heapify(a["free"])

    def _free_ip(self, ip, used):
        """An address goes back to its pool (private: reusable at once, lowest first;
        public: after every never-used address and every earlier release)."""
        used.discard(ip)
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return
        for (_, rotate), a in self._allocators.items():
            if a["used"] is not used or addr not in a["net"]:
                continue
            if rotate:
                a["free"].append(ip)
            else:
                off = int(addr) - a["base"]
                if 0 <= off < a["next"]:
                    heapq.heappush(a["free"], off)

    # ----- nodes and ENIs (used by the Kubernetes simulator) ------------------
    def _zone(self, index):
        letters = "hijk"
        zone = f"{self.region}-{letters[index % len(letters)]}"
        return zone, f"vsw-sim{index % len(letters) + 1:04d}"

    def add_node(self, name, ram_role=DEFAULT_RAM_ROLE):
        """Creates an ECS instance with its primary ENI. Idempotent per name."""
        with self.lock:
            if name in self.nodes:
                return self._node_info(name)
            zone, vsw = self._zone(len(self.nodes))
            iid = self._new_id("i-sim", 16)
            eni = self._new_eni(self._next_ip(self._node_net, self._used_private), zone, vsw,
                                iid, "Primary", name)
            # Pod IPs live on a secondary ENI, as with Terway's ENI multi-IP mode: EIPs
            # are associated with secondary ENIs (InstanceType=NetworkInterface).
            pod_eni = self._new_eni(self._next_ip(self._node_net, self._used_private), zone, vsw,
                                    iid, "Secondary", name)
            self.instances[iid] = {"InstanceId": iid, "node": name, "ZoneId": zone,
                                   "VSwitchId": vsw, "primary_eni": eni["NetworkInterfaceId"],
                                   "ram_role": ram_role}
            self.nodes[name] = {"name": name, "virtual": False, "instance_id": iid,
                                "eni_id": eni["NetworkInterfaceId"],
                                "pod_eni_id": pod_eni["NetworkInterfaceId"], "zone_id": zone,
                                "vswitch_id": vsw, "ram_role": ram_role, "ram_creds": None}
            self.save()
            return self._node_info(name)

    def add_virtual_node(self, name):
        """ACS/ECI style node: no instance metadata, one ENI per pod IP."""
        with self.lock:
            if name in self.nodes:
                return self._node_info(name)
            zone, vsw = self._zone(len(self.nodes))
            self.nodes[name] = {"name": name, "virtual": True, "instance_id": "",
                                "eni_id": "", "zone_id": zone, "vswitch_id": vsw,
                                "ram_role": "", "ram_creds": None}
            self.save()
            return self._node_info(name)

    def _node_info(self, name):
        n = self.nodes[name]
        eni = self.enis.get(n["eni_id"])
        pod_eni = self.enis.get(n.get("pod_eni_id", ""))
        return {"instance_id": n["instance_id"], "eni_id": n["eni_id"],
                "pod_eni_id": pod_eni["NetworkInterfaceId"] if pod_eni else "",
                "pod_mac": pod_eni["MacAddress"] if pod_eni else "",
                "mac": eni["MacAddress"] if eni else "",
                "private_ip": eni["PrivateIpAddress"] if eni else "",
                "zone_id": n["zone_id"], "vswitch_id": n["vswitch_id"], "ram_role": n["ram_role"],
                "virtual": n["virtual"]}

    def _new_eni(self, ip, zone, vsw, instance_id, kind, node):
        eid = self._new_id("eni-sim", 16)
        eni = {"NetworkInterfaceId": eid, "MacAddress": self._mac(), "PrivateIpAddress": ip,
               "secondary": [], "InstanceId": instance_id, "Type": kind, "Status": "InUse",
               "VpcId": self.vpc_id, "VSwitchId": vsw, "ZoneId": zone, "node": node,
               "CreationTime": iso(self.now()), "NetworkInterfaceName": "",
               "Description": "", "ResourceGroupId": DEFAULT_RESOURCE_GROUP}
        self.enis[eid] = eni
        return eni

    def allocate_pod_ip(self, node_name):
        """A pod IP for node_name: a secondary private IP on the node's pod ENI (an
        idle one of the node's pool first, as Terway's ENI multi-IP mode hands out
        the IPs it keeps), or, on a virtual node, the primary IP of a new ENI.
        Returns (ip, eni_id)."""
        with self.lock:
            node = self.nodes.get(node_name)
            if node is None:
                raise KeyError(f"unknown node {node_name}")
            if not node["virtual"] and node.get("ip_pool"):
                pool = sorted(node["ip_pool"], key=ipaddress.ip_address)
                ip = pool[0]
                node["ip_pool"] = pool[1:]
                self.save()
                return ip, node["pod_eni_id"]
            ip = self._next_ip(self._pod_net, self._used_private)
            if node["virtual"]:
                eni = self._new_eni(ip, node["zone_id"], node["vswitch_id"],
                                    self._new_id("eci-sim", 16), "Secondary", node_name)
                self.save()
                return ip, eni["NetworkInterfaceId"]
            eni = self.enis[node["pod_eni_id"]]
            eni["secondary"].append(ip)
            self.save()
            return ip, eni["NetworkInterfaceId"]

    def release_pod_ip(self, ip):
        """Gives a pod IP back. On an ECS node the IP stays assigned to the ENI, in the
        node's pool for its next pod (Terway's ENI multi-IP mode), and an EIP still
        bound to it stays bound: nothing in the cloud unbinds it, so the next pod on
        that IP would get the old pod's public traffic. On a virtual node the pod's
        ENI is deleted with the ECI instance, which unbinds its EIP; the EIP itself
        stays allocated."""
        with self.lock:
            self.tick()
            for eni in list(self.enis.values()):
                if ip in eni["secondary"]:
                    node = self.nodes.get(eni["node"])
                    if node is not None and ip not in node.setdefault("ip_pool", []):
                        node["ip_pool"].append(ip)
                    self.save()
                    return
                if eni["PrivateIpAddress"] == ip and eni["Type"] == "Secondary" and \
                        eni["InstanceId"].startswith("eci-"):
                    del self.enis[eni["NetworkInterfaceId"]]
                    self._free_ip(ip, self._used_private)
                    for e in self.eips.values():
                        if e["InstanceId"] == eni["NetworkInterfaceId"] and self._bound_ip(e) == ip:
                            self._set_unbound(e)
                    self.save()
                    return

    # ----- state machine ------------------------------------------------------
    def tick(self):
        with self.lock:
            now = self.now()
            for aid in list(self.eips):
                e = self.eips[aid]
                c = e.get("_cbwpPending")
                if c and c["at"] <= now:
                    self._cbwp_bound(e, c)
                p = e.get("_pending")
                if not p or p["at"] > now:
                    continue
                e["_pending"] = None
                if e["Status"] == "Associating" and p.get("fail"):
                    self._set_unbound(e, p["at"])  # the backend task failed: back to Available
                elif e["Status"] == "Associating":
                    self._set_status(e, "InUse", p["at"])
                elif e["Status"] == "Unassociating":
                    self._set_unbound(e, p["at"])
                elif e["Status"] == "Releasing":
                    self._gone(e, p["at"])

    @staticmethod
    def _bound_ip(e):
        """The private IP an EIP really sits on: PrivateIpAddress, or for a binding to
        an ENI made without one, the ENI's primary address (shown as "")."""
        return e.get("_boundIp") or e["PrivateIpAddress"]

    def _set_status(self, e, status, at=None):
        e["Status"] = status
        hist = e.setdefault("_history", [])
        hist.append({"status": status, "time": round(self.now() if at is None else at, 6)})
        del hist[:-50]

    def _set_unbound(self, e, at=None):
        e.update(InstanceId="", InstanceType="", PrivateIpAddress="", InstanceRegionId="",
                 _boundIp="", _pending=None)
        self._set_status(e, "Available", at)

    def _gone(self, e, at=None):
        """The release task finished: the EIP no longer exists (DescribeEipAddresses
        stops returning it); /__sim/eips keeps a short record under "released"."""
        self._free_ip(e["IpAddress"], self._used_public)
        self.eips.pop(e["AllocationId"], None)
        hist = e.get("_history", []) + [{"status": "(gone)",
                                          "time": round(self.now() if at is None else at, 6)}]
        self.released.append({"AllocationId": e["AllocationId"], "IpAddress": e["IpAddress"],
                              "_history": hist})
        del self.released[:-1000]

    def _schedule(self, e, status, delay_key, fail=False):
        """Starts an asynchronous task: status now, the next one after the configured
        delay (with jitter); returns the delay in seconds."""
        delay = self._delay(delay_key)
        self._set_status(e, status)
        e["_pending"] = {"at": self.now() + delay, "fail": bool(fail)}
        if delay <= 0:
            self.tick()
        return delay

    def _cbwp_bound(self, e, c):
        bp = self.bandwidth_packages.get(c["bid"])
        e["_cbwpPending"] = None
        if bp is not None:
            e.update(BandwidthPackageId=c["bid"], BandwidthPackageType="CommonBandwidthPackage",
                     BandwidthPackageBandwidth=bp["Bandwidth"])
            if e["AllocationId"] not in bp["PublicIpAddresses"]:
                bp["PublicIpAddresses"].append(e["AllocationId"])
        self._cbwp_status()

    def _cbwp_status(self):
        """BINDING while an EIP is being added, BINDED once it holds EIPs, else
        Available (AddCommonBandwidthPackageIp reference)."""
        binding = {e["_cbwpPending"]["bid"] for e in self.eips.values() if e.get("_cbwpPending")}
        for bid, bp in self.bandwidth_packages.items():
            bp["Status"] = "BINDING" if bid in binding else (
                "BINDED" if bp["PublicIpAddresses"] else "Available")

    # ----- credentials --------------------------------------------------------
    def issue_sts_credentials(self, lifetime, source):
        """Creates temporary credentials (STS.* key, secret, token)."""
        with self.lock:
            akid = self._new_id("STS.NSim", 20)
            secret = self._hex(30)
            token = "CAISsim" + b64url(os.urandom(48))
            now = self.now()
            cred = {"AccessKeyId": akid, "AccessKeySecret": secret, "SecurityToken": token,
                    "Expiration": iso(now + lifetime), "expires": now + lifetime,
                    "issued": now, "source": source}
            self.sts_keys[akid] = cred
            self.save()
            return cred

    def ram_credentials(self, node_name):
        """The node's current RAM role credentials, rotated like ECS does: a new set
        is issued when less than rotate_before seconds of the old one are left."""
        with self.lock:
            node = self.nodes[node_name]
            lifetime = float(self.config["ram_credential_lifetime"])
            before = self.config["ram_credential_rotate_before"]
            before = lifetime / 2 if before is None else float(before)
            cur = node["ram_creds"]
            if cur is None or cur["expires"] - self.now() <= before:
                cur = self.issue_sts_credentials(lifetime, f"ram:{node_name}")
                cur["LastUpdated"] = iso(self.now())
                node["ram_creds"] = cur
            return cur

    def make_oidc_token(self, subject="system:serviceaccount:kube-system:eip-agent",
                        lifetime=3600, issuer=None, audience=None, exp=None):
        """A JWT shaped like a projected service account token that this cloud's
        OIDC provider accepts (claims are checked; the RS256 signature is not)."""
        oidc = self.config["oidc"]
        now = int(self.now())
        header = {"alg": "RS256", "kid": "sim-key-1", "typ": "JWT"}
        payload = {"iss": issuer or oidc["issuer"], "sub": subject,
                   "aud": [audience or oidc["audiences"][0]], "iat": now, "nbf": now,
                   "exp": exp if exp is not None else now + lifetime}
        sig = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).digest()
        return ".".join([b64url(json.dumps(header).encode()),
                         b64url(json.dumps(payload).encode()), b64url(sig * 8)])

    def info(self, host="127.0.0.1"):
        """What a client needs (also written to DIR/cloud.json by the CLI)."""
        with self.lock:
            endpoint = f"https://{host}:{self.port}" if self.port else ""
            nodes = {}
            for name in self.nodes:
                n = self._node_info(name)
                if name in self.metadata_ports:
                    n["metadata_port"] = self.metadata_ports[name]
                    n["metadata_endpoint"] = f"http://{host}:{self.metadata_ports[name]}"
                nodes[name] = n
            return {"region": self.region, "vpc_id": self.vpc_id, "endpoint": endpoint,
                    "vpc_endpoint": endpoint, "ecs_endpoint": endpoint, "sts_endpoint": endpoint,
                    "sim_endpoint": endpoint + "/__sim" if endpoint else "",
                    "ca_file": self.ca_file, "access_keys": dict(self.access_keys), "nodes": nodes,
                    "metadata_ports": dict(self.metadata_ports),
                    "oidc": json.loads(json.dumps(self.config["oidc"])),
                    "bandwidth_packages": sorted(self.bandwidth_packages),
                    "public_ip_address_pools": sorted(self.pools)}

    # ----- configuration and faults -------------------------------------------
    def configure(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if k not in self.config:
                    raise KeyError(f"unknown config key {k}")
                if k == "qps":
                    if isinstance(v, (int, float)):
                        v = {"*": v}
                    self.config["qps"].update(v)
                elif k == "rate_limits":
                    if not isinstance(v, dict):
                        raise ValueError("rate_limits is an object {action: calls per window}")
                    self.config["rate_limits"].update(v)
                elif k == "oidc":
                    self.config["oidc"].update(v)
                else:
                    self.config[k] = v
            return self.public_config()

    def public_config(self):
        with self.lock:
            return json.loads(json.dumps(self.config))

    def add_fault(self, fault):
        """One fault: explicit keys, or {"preset": NAME} (FAULT_PRESETS) which fills
        code, status and message as the real service answers; explicit keys win."""
        f = {"action": "*", "error_rate": 1.0, "code": None, "http_status": None,
             "message": None, "latency_ms": 0, "hang": False, "reset": False, "count": None,
             "async_fail": False, "preset": None}
        unknown = set(fault) - set(f)
        if unknown:
            raise KeyError(f"unknown fault keys {sorted(unknown)}")
        preset = fault.get("preset")
        if preset is not None:
            if preset not in FAULT_PRESETS:
                raise KeyError(f"unknown fault preset {preset!r}; known: {sorted(FAULT_PRESETS)}")
            f.update({k: v for k, v in FAULT_PRESETS[preset].items() if k in f})
        f.update(fault)
        with self.lock:
            self.faults.append(f)
            return dict(f)

    @staticmethod
    def _fault_error(fault, action):
        """The ApiError an error fault stands for, for this action."""
        code = fault["code"] or "ServiceUnavailable"
        p = FAULT_PRESETS.get(fault.get("preset") or "", {})
        status = fault["http_status"] or p.get("status_by_action", {}).get(action)
        message = fault["message"] or p.get("message_by_action", {}).get(action)
        return ApiError(code, message, status)

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def _pick_fault(self, action, wildcard=True):
        with self.lock:
            for f in self.faults:
                if f["action"] != action and not (wildcard and f["action"] == "*"):
                    continue
                if f["count"] is not None and f["count"] <= 0:
                    continue
                if self.rand.random() >= float(f["error_rate"]):
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                return dict(f)
        return None

    def _throttle(self, action, account):
        """Per-account, per-action limits: rate_limits (calls in a sliding window of
        rate_window seconds, as the quota tables count them) and qps (1 s window).
        A refused call does not count. Raises Throttling.User."""
        with self.lock:
            now = time.monotonic()
            checks = []
            limit = self.config["rate_limits"].get(action)
            if limit:
                checks.append((("win", account, action), int(limit), float(self.config["rate_window"])))
            qps = self.config["qps"].get(action, self.config["qps"].get("*", 0))
            if qps and qps > 0:
                checks.append((("qps", account, action), int(qps), 1.0))
            for key, n, span in checks:
                win = self._windows[key]
                while win and win[0] <= now - span:
                    win.popleft()
                if len(win) >= n:
                    retry_ms = max(1, int(math.ceil((win[0] + span - now) * 1000)))
                    raise ApiError("Throttling.User", headers={"x-acs-retry-after": str(retry_ms)})
            for key, _, _ in checks:
                self._windows[key].append(now)

    def _delay(self, key):
        """The configured delay of an asynchronous task with this call's jitter."""
        with self.lock:
            base = max(0.0, float(self.config[key]))
            j = max(0.0, min(1.0, float(self.config["delay_jitter"])))
            if base <= 0 or j <= 0:
                return base
            return base * (1.0 + self._jitter_rand.uniform(-j, j))

    # ----- snapshots for tests -------------------------------------------------
    def eip_view(self, e):
        tags = [{"Key": k, "Value": v} for k, v in e["Tags"].items()]
        return {
            "AllocationId": e["AllocationId"], "IpAddress": e["IpAddress"], "Status": e["Status"],
            "InstanceId": e["InstanceId"], "InstanceType": e["InstanceType"],
            "InstanceRegionId": e["InstanceRegionId"], "PrivateIpAddress": e["PrivateIpAddress"],
            "Bandwidth": e["Bandwidth"], "EipBandwidth": e["Bandwidth"],
            "InternetChargeType": e["InternetChargeType"], "ChargeType": e["ChargeType"],
            # the older references spell it Descritpion, the current SDK models Description
            "ISP": e["ISP"], "Netmode": "public", "Name": e["Name"], "Description": e["Description"],
            "Descritpion": e["Description"], "BizType": "Default",
            "ResourceGroupId": e["ResourceGroupId"], "BandwidthPackageId": e["BandwidthPackageId"],
            "BandwidthPackageType": e["BandwidthPackageType"],
            "BandwidthPackageBandwidth": e["BandwidthPackageBandwidth"],
            "PublicIpAddressPoolId": e["PublicIpAddressPoolId"], "AllocationTime": e["AllocationTime"],
            "ExpiredTime": e["ExpiredTime"], "Mode": e["Mode"], "RegionId": self.region,
            "VpcId": "", "Zone": "", "SegmentInstanceId": "",
            "HDMonitorStatus": "false", "DeletionProtection": False, "SecondLimited": False,
            "HasReservationData": "false", "ServiceManaged": 0, "BusinessStatus": "Normal",
            "ReservationActiveTime": "", "ReservationBandwidth": "",
            "ReservationInternetChargeType": "", "ReservationOrderType": "",
            "Tags": {"Tag": tags}, "OperationLocks": {"LockReason": []},
            "AvailableRegions": {"AvailableRegion": [self.region]},
            "SecurityProtectionTypes": {"SecurityProtectionType": list(e["SecurityProtectionTypes"])},
        }

    def eips_snapshot(self):
        with self.lock:
            self.tick()
            out = []
            for e in self.eips.values():
                v = self.eip_view(e)
                v["_seq"] = e["_seq"]
                v["_clientToken"] = e["_clientToken"]
                v["_history"] = list(e.get("_history", []))
                v["_boundIp"] = self._bound_ip(e)
                c = e.get("_cbwpPending")
                v["_cbwpPending"] = dict(c) if c else None
                p = e.get("_pending")
                v["_pendingInSeconds"] = round(max(0.0, p["at"] - self.now()), 3) if p else None
                out.append(v)
            return out

    def enis_snapshot(self):
        with self.lock:
            self.tick()
            return [self._eni_view(e) | {"node": e["node"]} for e in self.enis.values()]

    def calls_snapshot(self):
        with self.lock:
            return [dict(c) for c in self.calls]

    def clear_calls(self):
        with self.lock:
            self.calls = []

    # ----- request handling -----------------------------------------------------
    def handle_api(self, h):
        """Serves one OpenAPI request on handler h; returns (status, headers, body)."""
        started = time.time()
        rid = self._request_id()
        parsed = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        body = h.body
        headers = {k.lower(): v for k, v in h.headers.items()}
        params = dict(query)
        ctype = headers.get("content-type", "")
        if body and "application/x-www-form-urlencoded" in ctype:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        v3 = "x-acs-action" in headers or headers.get("authorization", "").startswith("ACS3")
        if v3:
            action = headers.get("x-acs-action", "")
            version = headers.get("x-acs-version", "")
            fmt = "JSON"
        else:
            action = params.get("Action", "")
            version = params.get("Version", "")
            fmt = params.get("Format", "XML").upper()
        product = PRODUCTS.get(version, "Vpc")
        call = {"time": iso(started), "timestamp": started, "action": action, "version": version,
                "product": product, "method": h.command, "style": "v3" if v3 else "rpc",
                "params": {k: v for k, v in params.items() if k not in SECRET_PARAMS},
                "access_key_id": "" if v3 else params.get("AccessKeyId", ""),
                "signature_verified": False, "http_status": 200, "code": "",
                "client_token": params.get("ClientToken", ""), "request_id": rid,
                "source": f"{h.client_address[0]}:{h.client_address[1]}", "fault": ""}
        extra = {"x-acs-request-id": rid}
        status, payload = 200, None
        self._tl.async_fail = False
        self._tl.async_delay = None
        try:
            fault = self._pick_fault(action) if action else None
            if fault:
                call["fault"] = fault.get("preset") or ",".join(
                    k for k in ("latency_ms", "hang", "reset", "code") if fault.get(k))
                if fault["latency_ms"]:
                    self._stop.wait(float(fault["latency_ms"]) / 1000.0)
                if fault["async_fail"]:
                    self._tl.async_fail = True
                if fault["hang"]:
                    call["http_status"] = 0
                    call["code"] = "(hang)"
                    self._log(call, started)
                    self._stop.wait(600)
                    return None
                if fault["reset"]:
                    call["http_status"] = 0
                    call["code"] = "(reset)"
                    self._log(call, started)
                    return "reset"
                if fault["code"] or fault["http_status"]:
                    raise self._fault_error(fault, action)
            if fmt not in ("JSON", "XML"):
                raise ApiError("InvalidParameter.Format")
            if not action:
                raise ApiError("MissingParameter", arg="Action")
            if not version:
                raise ApiError("MissingParameter", arg="Version")
            if version not in PRODUCTS:
                raise ApiError("InvalidVersion")
            anonymous = (version, action) == (STS_VERSION, "AssumeRoleWithOIDC")
            if anonymous:
                call["style"] += "-anonymous"
            else:
                akid = self._authenticate(h, v3, params, query, headers, body)
                call["access_key_id"] = akid
                call["signature_verified"] = True
            fn = ACTIONS.get((version, action))
            if fn is None:
                raise ApiError("InvalidAction.NotFound")
            if not anonymous and action in self.config["forbidden_actions"]:
                raise ApiError("Forbidden.RAM")
            self._throttle(action, ACCOUNT_ID if anonymous else self._account_of(call["access_key_id"]))
            with self.lock:
                self.tick()
                payload = fn(self, params)
                if not action.startswith(("Describe", "List")):
                    self.save()
                self.tick()
            payload = {"RequestId": rid, **payload}
        except ApiError as err:
            status = err.status
            call["code"] = err.code
            extra.update(err.headers)
            host = headers.get("host", f"{product.lower()}.{self.region}.aliyuncs.com")
            payload = {"RequestId": rid, "HostId": host, "Code": err.code, "Message": err.message,
                       "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}&product={product}&requestId={rid}"}
        call["http_status"] = status
        if status == 200 and self._tl.async_delay is not None:
            call["async_delay_s"] = round(self._tl.async_delay, 6)
        self._log(call, started)
        if fmt == "XML" and not v3:
            root = "Error" if status != 200 else f"{action}Response"
            data = ('<?xml version="1.0" encoding="UTF-8"?>' + to_xml(root, payload)).encode()
            extra["Content-Type"] = "text/xml;charset=utf-8"
        else:
            data = json.dumps(payload).encode()
            extra["Content-Type"] = "application/json;charset=utf-8"
        return status, extra, data

    def _log(self, call, started):
        call["duration_ms"] = round((time.time() - started) * 1000, 1)
        with self.lock:
            self.calls.append(call)
            if len(self.calls) > 200000:
                del self.calls[:100000]

    def _check_time(self, value):
        t = parse_iso(value)
        if t is None:
            raise ApiError("InvalidTimeStamp.Format")
        if abs(t - self.now()) > float(self.config["timestamp_skew"]):
            raise ApiError("InvalidTimeStamp.Expired")

    def _secret_for(self, akid, token):
        """Looks up the secret of a permanent or STS key; checks the token."""
        with self.lock:
            if akid in self.access_keys:
                return self.access_keys[akid]
            cred = self.sts_keys.get(akid)
            if cred is None:
                raise ApiError("InvalidAccessKeyId.NotFound")
            if not token:
                raise ApiError("MissingSecurityToken")
            if token != cred["SecurityToken"]:
                if any(c["SecurityToken"] == token for c in self.sts_keys.values()):
                    raise ApiError("InvalidSecurityToken.MismatchWithAccessKey")
                raise ApiError("InvalidSecurityToken.Malformed")
            if cred["expires"] <= self.now():
                raise ApiError("InvalidSecurityToken.Expired")
            return cred["AccessKeySecret"]

    def _account_of(self, akid):
        """The account a key belongs to: every static and STS key of the simulator
        is the one account's (rate limits count per account)."""
        return ACCOUNT_ID

    def _use_nonce(self, nonce):
        with self.lock:
            now = self.now()
            horizon = 2 * float(self.config["timestamp_skew"])
            if len(self.nonces) > 10000:
                self.nonces = {k: t for k, t in self.nonces.items() if t > now - horizon}
            if nonce in self.nonces and self.nonces[nonce] > now - horizon:
                raise ApiError("SignatureNonceUsed")
            self.nonces[nonce] = now

    def _authenticate(self, h, v3, params, query, headers, body):
        if v3:
            auth = sign.parse_v3_authorization(headers.get("authorization", ""))
            if auth is None:
                raise ApiError("IncompleteSignature")
            if auth["algorithm"] != sign.V3_ALGORITHM:
                raise ApiError("InvalidSignatureMethod")
            for hname in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
                if not headers.get(hname):
                    raise ApiError("MissingParameter", arg=hname)
            signed = [s.lower() for s in auth["signed_headers"]]
            needed = {"host"} | {k for k in headers if k.startswith("x-acs-")}
            if not needed <= set(signed):
                raise ApiError("IncompleteSignature",
                               "The request signature does not conform to Aliyun standards. "
                               f"SignedHeaders must include {';'.join(sorted(needed))}")
            self._check_time(headers["x-acs-date"])
            secret = self._secret_for(auth["credential"], headers.get("x-acs-security-token", ""))
            payload_hash = hashlib.sha256(body or b"").hexdigest()
            path = urllib.parse.unquote(urllib.parse.urlsplit(h.path).path)
            canon = sign.v3_canonical_request(h.command, path, query, headers, signed, payload_hash)
            sts = sign.v3_string_to_sign(canon)
            if not sign.hmac_equal(sign.v3_sign(secret, sts), auth["signature"]):
                raise ApiError("SignatureDoesNotMatch", arg=sts)
            self._use_nonce(headers["x-acs-signature-nonce"])
            return auth["credential"]
        for p in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
            if not params.get(p):
                raise ApiError("MissingParameter", arg=p)
        if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
            raise ApiError("InvalidSignatureMethod")
        if params.get("SignatureVersion", "1.0") != "1.0":
            raise ApiError("InvalidParameter", "Specified parameter SignatureVersion is not valid.")
        self._check_time(params["Timestamp"])
        secret = self._secret_for(params["AccessKeyId"], params.get("SecurityToken", ""))
        signed = {k: v for k, v in params.items() if k != "Signature"}
        sts = sign.rpc_string_to_sign(h.command, signed)
        if not sign.hmac_equal(sign.rpc_sign(secret, sts), params["Signature"]):
            raise ApiError("SignatureDoesNotMatch", arg=sts)
        self._use_nonce(params["SignatureNonce"])
        return params["AccessKeyId"]

    # ----- parameter helpers -----------------------------------------------------
    @staticmethod
    def _req(params, name):
        v = params.get(name)
        if v is None or v == "":
            raise ApiError("MissingParameter", arg=name)
        return v

    @staticmethod
    def _int(params, name, default, lo, hi):
        v = params.get(name)
        if v is None or v == "":
            return default
        try:
            n = int(v)
        except ValueError:
            raise ApiError("InvalidParameter", f"The specified parameter {name} is not valid.")
        if n < lo or n > hi:
            raise ApiError("InvalidParameter", f"The specified parameter {name} is not valid.")
        return n

    @staticmethod
    def _list(params, prefix, limit):
        """Collects prefix.1, prefix.2, ... (any order of N)."""
        out = []
        for k, v in params.items():
            if k.startswith(prefix + "."):
                n = k[len(prefix) + 1:]
                if not n.isdigit() or not 1 <= int(n) <= limit:
                    raise ApiError("InvalidParameter", f"The specified parameter {k} is not valid.")
                out.append((int(n), v))
        return [v for _, v in sorted(out)]

    @staticmethod
    def _tags(params, limit=20):
        tags = {}
        for k, v in params.items():
            if k.startswith("Tag.") and k.endswith(".Key"):
                n = k[4:-4]
                if not n.isdigit() or not 1 <= int(n) <= limit:
                    raise ApiError("InvalidParameter", f"The specified parameter {k} is not valid.")
                if not v:
                    raise ApiError("InvalidParameter", f"The specified parameter {k} is not valid.")
                tags[v] = params.get(f"Tag.{n}.Value", "")
        return tags

    def _region(self, params, code="Forbidden.RegionNotFound"):
        rid = self._req(params, "RegionId")
        if rid != self.region:
            raise ApiError(code)

    def _idempotent(self, action, params, fn):
        token = params.get("ClientToken", "")
        if not token:
            return fn()
        if len(token) > 64:
            raise ApiError("InvalidParameter", "The specified parameter ClientToken is not valid.")
        fp = {k: v for k, v in params.items() if k not in COMMON_PARAMS}
        key = (action, token)
        prev = self.client_tokens.get(key)
        if prev is not None:
            if prev["params"] != fp:
                raise ApiError("IdempotentParameterMismatch")
            return dict(prev["result"])
        result = fn()
        self.client_tokens[key] = {"params": fp, "result": dict(result)}
        return result

    def _eip(self, aid):
        e = self.eips.get(aid)
        if e is None:
            raise ApiError("InvalidAllocationId.NotFound")
        return e

    # ----- VPC actions ---------------------------------------------------------------
    def act_allocate(self, p):
        self._region(p, "InvalidRegionId.NotFound")

        def do():
            charge = p.get("InstanceChargeType") or "PostPaid"
            if charge not in ("PostPaid", "PrePaid"):
                raise ApiError("InvalidParameter", "The specified parameter InstanceChargeType is not valid.")
            inet = p.get("InternetChargeType") or "PayByBandwidth"
            if inet not in ("PayByBandwidth", "PayByTraffic"):
                raise ApiError("InvalidParameter", 'Specified value of "InternetChargeType" is not valid')
            if charge == "PrePaid" and inet != "PayByBandwidth":
                raise ApiError("InvalidParameter", "PrePaid EIPs must use InternetChargeType PayByBandwidth.")
            # ranges from the AllocateEipAddress reference
            hi = 1000 if charge == "PrePaid" else (500 if inet == "PayByBandwidth" else 200)
            try:
                bw = self._int(p, "Bandwidth", 5, 1, hi)
            except ApiError:
                raise ApiError("InvalidParameter", 'Specified value of "Bandwidth" is not valid.')
            isp = p.get("ISP") or "BGP"
            if isp not in ISPS:
                raise ApiError("InvalidParameter", "The specified parameter ISP is not valid.")
            name = p.get("Name", "")
            if name and (len(name) > 128 or not name[0].isalpha() or
                         any(not (c.isalnum() or c in "._-") for c in name)):
                raise ApiError("InvalidParameter", "The specified parameter Name is not valid.")
            desc = p.get("Description", "")
            if desc and (not 2 <= len(desc) <= 256 or not desc[0].isalpha() or
                         desc.startswith(("http://", "https://"))):
                raise ApiError("InvalidParameter", "The specified parameter Description is not valid.")
            if charge == "PrePaid":
                if name or desc:
                    raise ApiError("InvalidParameter",
                                   "Name and Description cannot be set on a subscription EIP.")
                cycle = p.get("PricingCycle") or "Month"
                if cycle not in ("Month", "Year"):
                    raise ApiError("InvalidParameter", "The specified parameter PricingCycle is not valid.")
                self._req(p, "Period")
                self._int(p, "Period", 1, 1, 9 if cycle == "Month" else 5)
            want_ip = p.get("IpAddress", "")
            pool_id = p.get("PublicIpAddressPoolId", "")
            if pool_id and pool_id not in self.pools:
                raise ApiError("InvalidParameter", "The specified PublicIpAddressPoolId does not exist.")
            tags = self._tag_pairs(p, over="InvalidParameter")
            spt = self._list(p, "SecurityProtectionTypes", 10)
            if len(self.eips) >= int(self.config["eip_quota"]):
                raise ApiError("QuotaExceeded.Eip")
            net = self.pools[pool_id]["net"] if pool_id else self._eip_net
            if want_ip:
                try:
                    free = ipaddress.ip_address(want_ip) in net and want_ip not in self._used_public
                except ValueError:
                    free = False
                if not free:
                    raise ApiError("InvalidParameter", f"The specified IpAddress {want_ip} is not available.")
                self._used_public.add(want_ip)
                ip = want_ip
            else:
                ip = self._next_ip(net, self._used_public, rotate=True)
            aid = self._new_id("eip-sim", 17)
            self._eip_seq += 1
            now = self.now()
            e = {"AllocationId": aid, "IpAddress": ip, "Status": "Available", "InstanceId": "",
                 "InstanceType": "", "InstanceRegionId": "", "PrivateIpAddress": "",
                 "Bandwidth": str(bw), "InternetChargeType": inet, "ChargeType": charge, "ISP": isp,
                 "Name": name, "Description": desc,
                 "ResourceGroupId": p.get("ResourceGroupId") or DEFAULT_RESOURCE_GROUP,
                 "BandwidthPackageId": "", "BandwidthPackageType": "", "BandwidthPackageBandwidth": "",
                 "PublicIpAddressPoolId": pool_id, "AllocationTime": iso(now),
                 "ExpiredTime": iso(now + 30 * 86400) if charge == "PrePaid" else "",
                 "Mode": "NAT", "Tags": tags, "SecurityProtectionTypes": spt,
                 "_seq": self._eip_seq, "_clientToken": p.get("ClientToken", ""), "_pending": None}
            self.eips[aid] = e
            out = {"AllocationId": aid, "EipAddress": ip, "ResourceGroupId": e["ResourceGroupId"]}
            if charge == "PrePaid":
                out["OrderId"] = 200000000000000 + self._eip_seq
            return out

        return self._idempotent("AllocateEipAddress", p, do)

    def _resolve_target(self, itype, iid, pip):
        """Returns (eni, shown_ip, bound_ip) for an association target. An ENI bound
        without PrivateIpAddress is bound on its primary address and described with
        an empty PrivateIpAddress, as the real API answers (a pod owning its ENI, as on
        virtual nodes); an ECS instance is described with its primary address."""
        if itype == "NetworkInterface":
            eni = self.enis.get(iid)
            if eni is None:
                raise ApiError("InvalidInstanId.NotFound")
            if eni["Type"] == "Primary" and not self.config["allow_primary_eni_association"]:
                raise ApiError("InvalidParameter",
                               f"{iid} is the primary ENI of {eni['InstanceId']}: associate the EIP "
                               "with InstanceType EcsInstance, or with a secondary ENI.")
        elif itype == "EcsInstance":
            inst = self.instances.get(iid)
            if inst is None:
                raise ApiError("InvalidInstanId.NotFound")
            eni = self.enis[inst["primary_eni"]]
        else:
            raise ApiError("InvalidInstanceType.ValueNotSupported",
                           "The simulator only has EcsInstance and NetworkInterface targets.")
        ips = [eni["PrivateIpAddress"]] + eni["secondary"]
        if not pip:
            shown = "" if itype == "NetworkInterface" else eni["PrivateIpAddress"]
            return eni, shown, eni["PrivateIpAddress"]
        if pip not in ips:
            raise ApiError("InvalidParameter",
                           f"The specified PrivateIpAddress {pip} does not belong to {iid}.")
        return eni, pip, pip

    def _eni_of(self, e):
        if e["InstanceType"] == "NetworkInterface":
            return self.enis.get(e["InstanceId"])
        return self.enis.get(self.instances.get(e["InstanceId"], {}).get("primary_eni", ""))

    def act_associate(self, p):
        self._region(p)
        aid = self._req(p, "AllocationId")
        iid = self._req(p, "InstanceId")

        def do():
            itype = p.get("InstanceType") or "EcsInstance"
            if itype not in ("Nat", "SlbInstance", "EcsInstance", "NetworkInterface", "HaVip",
                             "IpAddress"):
                raise ApiError("InvalidInstanceType.ValueNotSupported")
            mode = p.get("Mode") or "NAT"
            if mode not in ("NAT", "MULTI_BINDED", "BINDED"):
                raise ApiError("InvalidParameter", "The specified parameter Mode is not valid.")
            e = self._eip(aid)
            eni, shown, bound = self._resolve_target(itype, iid, p.get("PrivateIpAddress", ""))
            # the EIP's own state first: anything but Available (InUse included, even on
            # this very target) is IncorrectEipStatus (AssociateEipAddress error codes)
            if e["Status"] != "Available":
                raise ApiError("IncorrectEipStatus")
            # InvalidAssociation.Duplicated: the *instance* already has an EIP ("An EIP or
            # a GA instance is already associated with the specified instance")
            for other in self.eips.values():
                if other is e or not other["InstanceId"]:
                    continue
                if self._eni_of(other) is eni and self._bound_ip(other) == bound:
                    raise ApiError("InvalidAssociation.Duplicated")
            e.update(InstanceId=iid, InstanceType=itype, PrivateIpAddress=shown, _boundIp=bound,
                     InstanceRegionId=self.region, Mode=mode)
            self._tl.async_delay = self._schedule(e, "Associating", "associate_delay",
                                                  fail=getattr(self._tl, "async_fail", False))
            return {}

        return self._idempotent("AssociateEipAddress", p, do)

    def act_unassociate(self, p):
        self._region(p)
        aid = self._req(p, "AllocationId")
        iid = p.get("InstanceId", "")

        def do():
            itype = p.get("InstanceType") or "EcsInstance"
            if itype not in ("Nat", "SlbInstance", "EcsInstance", "NetworkInterface", "HaVip",
                             "IpAddress"):
                raise ApiError("InvalidInstanceType.ValueNotSupported")
            force = p.get("Force", "false").lower()
            if force not in ("true", "false"):
                raise ApiError("InvalidParameter", "The specified parameter Force is not valid.")
            e = self._eip(aid)
            if iid and not ((itype == "NetworkInterface" and iid in self.enis) or
                            (itype == "EcsInstance" and iid in self.instances)):
                raise ApiError("InvalidInstanceId.NotFound")
            if e["Status"] == "Unassociating":
                # the reference lists TaskConflict for UnassociateEipAddress: no concurrent or
                # repeated disassociation of one EIP while its disassociation task runs
                raise ApiError("TaskConflict")
            if e["Status"] != "InUse":
                raise ApiError("IncorrectEipStatus")
            pip = p.get("PrivateIpAddress", "")
            if iid and (e["InstanceId"] != iid or e["InstanceType"] != itype) or \
                    (pip and pip != self._bound_ip(e)):
                raise ApiError("InvalidBindingStatus",
                               f"The EIP is not associated with {itype} {iid}"
                               + (f" ({pip})" if pip else "") + ".")
            self._tl.async_delay = self._schedule(e, "Unassociating", "unassociate_delay")
            return {}

        return self._idempotent("UnassociateEipAddress", p, do)

    def act_release(self, p):
        self._region(p)
        aid = self._req(p, "AllocationId")
        e = self._eip(aid)
        if e["ChargeType"] == "PrePaid":
            raise ApiError("Forbidden.ChargeTypeIsPrepaid")
        # only an Available EIP can be released; Releasing included (a second release)
        if e["Status"] != "Available" or e.get("_cbwpPending"):
            raise ApiError("IncorrectEipStatus")
        if e["BandwidthPackageId"]:
            bp = self.bandwidth_packages.get(e["BandwidthPackageId"])
            if bp and aid in bp["PublicIpAddresses"]:
                bp["PublicIpAddresses"].remove(aid)
            self._cbwp_status()
        self._tl.async_delay = self._schedule(e, "Releasing", "release_delay")
        return {}

    def act_modify(self, p):
        """ModifyEipAddressAttribute: Name, Description, Bandwidth (synchronous)."""
        self._region(p)
        aid = self._req(p, "AllocationId")
        e = self._eip(aid)
        if e["Status"] == "Releasing":
            raise ApiError("IncorrectEipStatus")
        name, desc = p.get("Name"), p.get("Description")
        if name is not None and name != "" and (
                len(name) > 128 or not name[0].isalpha() or
                any(not (c.isalnum() or c in "._-") for c in name)):
            raise ApiError("InvalidParameter", "The parameter is invalid.")
        if desc is not None and desc != "" and (
                not 2 <= len(desc) <= 256 or not desc[0].isalpha() or
                desc.startswith(("http://", "https://"))):
            raise ApiError("InvalidParameter", "The parameter is invalid.")
        bw = p.get("Bandwidth")
        if bw not in (None, ""):
            if e["ChargeType"] == "PrePaid":
                # the reference: a subscription EIP's bandwidth is not changed by this API
                raise ApiError("Forbidden.ChargeTypeIsPrepaid",
                               "It's forbidden to change prepaid EIP's bandwidth by API.")
            hi = 500 if e["InternetChargeType"] == "PayByBandwidth" else 200
            if not bw.isdigit() or not 1 <= int(bw) <= hi:
                raise ApiError("InvalidParameter", 'Specified value of "Bandwidth" is not supported.')
            e["Bandwidth"] = str(int(bw))
        if name is not None:
            e["Name"] = name
        if desc is not None:
            e["Description"] = desc
        return {}

    def act_describe(self, p):
        self._region(p)
        ids = [x.strip() for x in p.get("AllocationId", "").split(",") if x.strip()]
        ips = [x.strip() for x in p.get("EipAddress", "").split(",") if x.strip()]
        if len(ids) > 50 or len(ips) > 50:
            raise ApiError("InvalidParameter", "At most 50 AllocationId or EipAddress values are allowed.")
        status = p.get("Status", "")
        if status and status not in EIP_STATES:
            raise ApiError("InvalidParameter", "The specified parameter Status is not valid.")
        if p.get("AssociatedInstanceType") and p["AssociatedInstanceType"] not in (
                "EcsInstance", "SlbInstance", "Nat", "HaVip", "NetworkInterface", "IpAddress"):
            raise ApiError("InvalidIAssociatedInstanceType.ValueNotSupported")
        if p.get("ChargeType") and p["ChargeType"] not in ("PostPaid", "PrePaid"):
            raise ApiError("InvalidChargeType.ValueNotSupported")
        page = self._int(p, "PageNumber", 1, 1, 1 << 30)
        size = self._int(p, "PageSize", 10, 1, 100)
        tags = self._tags(p)
        filters = {"AssociatedInstanceType": "InstanceType", "AssociatedInstanceId": "InstanceId",
                   "ResourceGroupId": "ResourceGroupId", "ISP": "ISP", "ChargeType": "ChargeType",
                   "EipName": "Name", "PublicIpAddressPoolId": "PublicIpAddressPoolId",
                   "Status": "Status"}
        rows = []
        for e in sorted(self.eips.values(), key=lambda x: x["_seq"]):
            if ids and e["AllocationId"] not in ids:
                continue
            if ips and e["IpAddress"] not in ips:
                continue
            if any(p.get(k) and e[f] != p[k] for k, f in filters.items()):
                continue
            if p.get("PrivateIpAddress") and e["PrivateIpAddress"] != p["PrivateIpAddress"]:
                continue
            if any(k not in e["Tags"] or (v and e["Tags"][k] != v) for k, v in tags.items()):
                continue
            rows.append(e)
        chunk = rows[(page - 1) * size: page * size]
        return {"TotalCount": len(rows), "PageNumber": page, "PageSize": size,
                "EipAddresses": {"EipAddress": [self.eip_view(e) for e in chunk]}}

    def act_cbwp_add(self, p):
        """AddCommonBandwidthPackageIp: asynchronous. The package is BINDING until the
        EIP is in it (then BINDED); DescribeEipAddresses shows the BandwidthPackageId
        once bound. The EIP's line type (ISP) must be the package's."""
        self._region(p, "InvalidRegionId.NotFound")
        bid = self._req(p, "BandwidthPackageId")
        aid = self._req(p, "IpInstanceId")

        def do():
            bp = self.bandwidth_packages.get(bid)
            if bp is None:
                raise ApiError("InvalidBandwidthPackageId.NotFound")
            e = self.eips.get(aid)
            if e is None:
                raise ApiError("InvalidIpInstanceId.NotFound")
            if e.get("_cbwpPending"):
                raise ApiError("TaskConflict", "The operation is too frequent, TaskConflict.")
            if e["BandwidthPackageId"]:
                raise ApiError("IpInstanceId.AlreadyInBandwidthPackage")
            if e["ChargeType"] != "PostPaid":
                raise ApiError("IpInstanceId.ChargeType.NotSupport")
            if e["Status"] not in ("Available", "InUse"):
                raise ApiError("IncorrectStatus.Eip")
            if e["ISP"] != bp["ISP"]:
                raise ApiError("Mismatch.CbwpIspAndEipIsp")
            delay = self._delay("cbwp_delay")
            self._tl.async_delay = delay
            e["_cbwpPending"] = {"at": self.now() + delay, "bid": bid}
            self._cbwp_status()
            if delay <= 0:
                self.tick()
            return {}

        return self._idempotent("AddCommonBandwidthPackageIp", p, do)

    def act_cbwp_remove(self, p):
        self._region(p, "InvalidRegionId.NotFound")
        bid = self._req(p, "BandwidthPackageId")
        aid = self._req(p, "IpInstanceId")

        def do():
            bp = self.bandwidth_packages.get(bid)
            if bp is None:
                raise ApiError("InvalidBandwidthPackageId.NotFound")
            e = self.eips.get(aid)
            if e is not None and e.get("_cbwpPending"):
                raise ApiError("IncorrectStatus.Eip")
            # an EIP that does not exist is not in the package either
            if e is None or e["BandwidthPackageId"] != bid:
                raise ApiError("OperationUnsupported.IpNotInCbwp")
            if e["Status"] not in ("Available", "InUse"):
                raise ApiError("IncorrectStatus.Eip")
            e.update(BandwidthPackageId="", BandwidthPackageType="", BandwidthPackageBandwidth="")
            if aid in bp["PublicIpAddresses"]:
                bp["PublicIpAddresses"].remove(aid)
            self._cbwp_status()
            return {}

        return self._idempotent("RemoveCommonBandwidthPackageIp", p, do)

    @staticmethod
    def _tag_pairs(params, limit=20, over="SizeLimitExceeded.TagNum"):
        """Tag.N.Key / Tag.N.Value validated as the VPC tag references say: at most
        `limit` tags, keys 1..128 characters, values up to 128, neither starting with
        aliyun or acs: nor containing http:// or https://, no key twice."""
        pairs = {}
        for k, v in params.items():
            if k.startswith("Tag.") and (k.endswith(".Key") or k.endswith(".Value")):
                n = k[4:].rsplit(".", 1)[0]
                if not n.isdigit() or int(n) < 1:
                    raise ApiError("InvalidParameter", f"The specified parameter {k} is not valid.")
                slot = pairs.setdefault(int(n), {})
                slot["key" if k.endswith(".Key") else "value"] = v
        if len(pairs) > limit:
            raise ApiError(over)
        out = {}

        def bad(text):
            return text.lower().startswith(("aliyun", "acs:")) or "http://" in text or "https://" in text

        for n in sorted(pairs):
            key, value = pairs[n].get("key"), pairs[n].get("value", "")
            if key is None or key == "" or len(key) > 128 or bad(key):
                raise ApiError("InvalidTagKey")
            if len(value) > 128 or bad(value):
                raise ApiError("InvalidTagValue")
            if key in out:
                raise ApiError("Forbidden.TagKey.Duplicated")
            out[key] = value
        return out

    @staticmethod
    def _resource_type(p):
        rtype = Cloud._req(p, "ResourceType")
        if rtype.upper() != "EIP":  # the values are case-insensitive (TagResources reference)
            raise ApiError("InvalidParameter", "The simulator supports ResourceType EIP only.")

    def _resource_ids(self, p, limit=50):
        ids = []
        for k, v in p.items():
            if k.startswith("ResourceId."):
                n = k[len("ResourceId."):]
                if not n.isdigit() or int(n) < 1:
                    raise ApiError("InvalidParameter", f"The specified parameter {k} is not valid.")
                ids.append((int(n), v))
        if len(ids) > limit:
            raise ApiError("SizeLimitExceeded.ResourceId")
        return [v for _, v in sorted(ids)]

    def act_tag(self, p):
        self._region(p)
        self._resource_type(p)
        ids = self._resource_ids(p)
        if not ids:
            raise ApiError("MissingParameter", arg="ResourceId.1")
        tags = self._tag_pairs(p)
        if not tags:
            raise ApiError("MissingParameter", arg="Tag.1.Key")
        for aid in ids:
            if aid not in self.eips:
                raise ApiError("InvalidResourceId.NotFound", f"The specified resource {aid} does not exist.")
        for aid in ids:
            merged = dict(self.eips[aid]["Tags"], **tags)
            if len(merged) > 20:  # at most 20 tags on one instance
                raise ApiError("QuotaExceeded.TagNum")
        for aid in ids:
            self.eips[aid]["Tags"].update(tags)
        return {}

    def act_untag(self, p):
        self._region(p)
        self._resource_type(p)
        ids = self._resource_ids(p)
        keys = self._list(p, "TagKey", 20)
        all_ = p.get("All", "false").lower() == "true"
        for aid in ids:
            e = self._eip(aid)
            for k in (list(e["Tags"]) if all_ else keys):
                e["Tags"].pop(k, None)
        return {}

    def act_list_tags(self, p):
        """ListTagResources: ResourceType required; pages of MaxResults (1..50,
        default 50) chained by NextToken ("" on the last page)."""
        self._region(p)
        self._resource_type(p)
        ids = self._resource_ids(p)
        tags = self._tag_pairs(p)
        size = self._int(p, "MaxResults", 50, 1, 50)
        start = 0
        token = p.get("NextToken", "")
        if token:
            try:
                start = int(b64url_decode(token).decode().split(":", 1)[1])
            except Exception:
                raise ApiError("InvalidParameter", "The specified parameter NextToken is not valid.")
        rows = []
        for e in sorted(self.eips.values(), key=lambda x: x["_seq"]):
            if ids and e["AllocationId"] not in ids:
                continue
            if any(k not in e["Tags"] or (v and e["Tags"][k] != v) for k, v in tags.items()):
                continue
            for k, v in sorted(e["Tags"].items()):
                if tags and k not in tags:
                    continue
                rows.append({"ResourceId": e["AllocationId"], "ResourceType": "EIP",
                             "TagKey": k, "TagValue": v})
        chunk = rows[start:start + size]
        nxt = b64url(f"tags:{start + size}".encode()) if start + size < len(rows) else ""
        return {"NextToken": nxt, "TagResources": {"TagResource": chunk}}

    # ----- ECS -------------------------------------------------------------------------
    def _eni_view(self, eni):
        def pub(ip):
            for e in self.eips.values():
                if self._bound_ip(e) == ip and e["Status"] in ("InUse", "Associating", "Unassociating") and (
                        e["InstanceId"] == eni["NetworkInterfaceId"] or
                        e["InstanceId"] == eni["InstanceId"]):
                    return {"PublicIpAddress": e["IpAddress"], "AllocationId": e["AllocationId"]}
            return {"PublicIpAddress": "", "AllocationId": ""}

        ips = [(eni["PrivateIpAddress"], True)] + [(ip, False) for ip in eni["secondary"]]
        managed = eni["InstanceId"].startswith("eci-")
        shown_instance = "" if managed else eni["InstanceId"]  # managed by ECI: no instance id
        return {
            "NetworkInterfaceId": eni["NetworkInterfaceId"], "Status": eni["Status"],
            "Type": eni["Type"], "VpcId": eni["VpcId"], "VSwitchId": eni["VSwitchId"],
            "ZoneId": eni["ZoneId"], "PrivateIpAddress": eni["PrivateIpAddress"],
            "MacAddress": eni["MacAddress"], "NetworkInterfaceName": eni["NetworkInterfaceName"],
            "Description": eni["Description"], "InstanceId": shown_instance,
            "CreationTime": eni["CreationTime"], "ResourceGroupId": eni["ResourceGroupId"],
            "ServiceManaged": managed, "OwnerId": ACCOUNT_ID, "DeleteOnRelease": eni["Type"] == "Primary",
            "SourceDestCheck": False, "NetworkInterfaceTrafficMode": "Standard",
            "QueueNumber": 1, "SecurityGroupIds": {"SecurityGroupId": ["sg-sim0001"]},
            "AssociatedPublicIp": pub(eni["PrivateIpAddress"]),
            "PrivateIpSets": {"PrivateIpSet": [
                {"PrivateIpAddress": ip, "Primary": prim, "AssociatedPublicIp": pub(ip)}
                for ip, prim in ips]},
            "Ipv6Sets": {"Ipv6Set": []}, "Ipv4PrefixSets": {"Ipv4PrefixSet": []},
            "Ipv6PrefixSets": {"Ipv6PrefixSet": []}, "Tags": {"Tag": []},
            "Attachment": {"InstanceId": shown_instance, "DeviceIndex": 0 if eni["Type"] == "Primary" else 1},
        }

    def act_describe_enis(self, p):
        self._region(p)
        ips = set(self._list(p, "PrivateIpAddress", 100))
        ids = set(self._list(p, "NetworkInterfaceId", 100))
        simple = {"VpcId": "VpcId", "VSwitchId": "VSwitchId", "InstanceId": "InstanceId",
                  "Type": "Type", "Status": "Status", "PrimaryIpAddress": "PrivateIpAddress",
                  "NetworkInterfaceName": "NetworkInterfaceName"}
        rows = []
        for eni in sorted(self.enis.values(), key=lambda x: x["CreationTime"] + x["NetworkInterfaceId"]):
            if ids and eni["NetworkInterfaceId"] not in ids:
                continue
            # PrivateIpAddress.N: the ENI's secondary private IPs (the reference); the
            # primary IP is matched by PrimaryIpAddress
            candidates = set(eni["secondary"])
            if self.config["eni_private_ip_filter_includes_primary"]:
                candidates.add(eni["PrivateIpAddress"])
            if ips and not ips & candidates:
                continue
            shown = {"InstanceId": "" if eni["InstanceId"].startswith("eci-") else eni["InstanceId"]}
            if any(p.get(k) and shown.get(f, eni[f]) != p[k] for k, f in simple.items()):
                continue
            rows.append(eni)
        out = {}
        if p.get("NextToken") or p.get("MaxResults"):
            try:
                size = min(500, max(10, int(p.get("MaxResults") or 10)))  # clamped, as documented
            except ValueError:
                raise ApiError("InvalidParameter", "The specified parameter MaxResults is not valid.")
            start = 0
            if p.get("NextToken"):
                try:
                    start = int(b64url_decode(p["NextToken"]).decode())
                except Exception:
                    raise ApiError("InvalidParameter", "The specified parameter NextToken is not valid.")
            chunk = rows[start:start + size]
            out["NextToken"] = b64url(str(start + size).encode()) if start + size < len(rows) else ""
        else:
            page = self._int(p, "PageNumber", 1, 1, 1 << 30)
            size = self._int(p, "PageSize", 10, 1, 1000)
            chunk = rows[(page - 1) * size: page * size]
            out.update(PageNumber=page, PageSize=size)
        out["TotalCount"] = len(rows)
        out["NetworkInterfaceSets"] = {"NetworkInterfaceSet": [self._eni_view(e) for e in chunk]}
        return out

    # ----- STS -------------------------------------------------------------------------
    def act_assume_oidc(self, p):
        oidc = self.config["oidc"]
        role_arn = self._req(p, "RoleArn")
        provider = self._req(p, "OIDCProviderArn")
        token = self._req(p, "OIDCToken")
        session = self._req(p, "RoleSessionName")
        if not (2 <= len(session) <= 64) or any(not (c.isalnum() or c in "._-@=") for c in session):
            raise ApiError("InvalidParameter.RoleSessionName")
        duration = p.get("DurationSeconds") or str(self.config["sts_default_duration"])
        try:
            duration = int(duration)
        except ValueError:
            raise ApiError("InvalidParameter.DurationSeconds")
        if not 900 <= duration <= 43200:
            raise ApiError("InvalidParameter.DurationSeconds")
        if provider != oidc["provider_arn"]:
            raise ApiError("EntityNotExist.OIDCProvider")
        if role_arn not in oidc["role_arns"]:
            raise ApiError("EntityNotExist.Role")
        parts = token.split(".")
        if len(parts) != 3 or not (4 <= len(token) <= 20000):
            raise ApiError("AuthenticationFail.OIDCToken.Invalid", arg="not a JWT")
        try:
            claims = json.loads(b64url_decode(parts[1]))
            json.loads(b64url_decode(parts[0]))
        except Exception:
            raise ApiError("AuthenticationFail.OIDCToken.Invalid", arg="undecodable JWT")
        if not isinstance(claims, dict):
            raise ApiError("AuthenticationFail.OIDCToken.Invalid", arg="claims are not an object")
        now = self.now()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise ApiError("AuthenticationFail.OIDCToken.Expired")
        if claims.get("iss") != oidc["issuer"]:
            raise ApiError("AuthenticationFail.OIDCToken.IssuerNotMatch")
        aud = claims.get("aud")
        aud = aud if isinstance(aud, list) else [aud]
        if not set(aud) & set(oidc["audiences"]):
            raise ApiError("AuthenticationFail.OIDCToken.AudienceNotMatch")
        if oidc["subjects"] and claims.get("sub") not in oidc["subjects"]:
            raise ApiError("AuthenticationFail.OIDCToken.Invalid", arg="subject is not trusted by the role")
        lifetime = self.config["sts_duration_override"] or duration
        cred = self.issue_sts_credentials(float(lifetime), f"oidc:{claims.get('sub')}")
        role_name = role_arn.rsplit("/", 1)[-1]
        return {
            "Credentials": {k: cred[k] for k in ("AccessKeyId", "AccessKeySecret",
                                                 "SecurityToken", "Expiration")},
            "AssumedRoleUser": {"AssumedRoleId": f"3{ACCOUNT_ID[1:]}0000:{session}",
                                "Arn": f"acs:ram::{ACCOUNT_ID}:role/{role_name}/{session}"},
            "OIDCTokenInfo": {"Subject": claims.get("sub", ""), "Issuer": claims.get("iss", ""),
                              "ClientIds": ",".join(a for a in aud if a),
                              "ExpirationTime": iso(claims["exp"]),
                              "IssuanceTime": iso(claims.get("iat", now)),
                              "VerificationInfo": "Success"},
        }

    # ----- admin (/__sim) ---------------------------------------------------------------
    def handle_admin(self, h):
        path = urllib.parse.urlsplit(h.path).path.rstrip("/")
        method = h.command
        try:
            body = json.loads(h.body or b"null") if method in ("POST", "PUT") else None
        except ValueError:
            return 400, {"error": "body is not JSON"}
        try:
            if path == "/__sim/eips" and method == "GET":
                with self.lock:
                    return 200, {"eips": self.eips_snapshot(), "quota": self.config["eip_quota"],
                                 "bandwidthPackages": list(self.bandwidth_packages.values()),
                                 "released": [dict(r) for r in self.released]}
            if path == "/__sim/enis" and method == "GET":
                return 200, {"enis": self.enis_snapshot()}
            if path == "/__sim/nodes" and method == "GET":
                with self.lock:
                    return 200, {"nodes": {n: self._node_info(n) for n in self.nodes},
                                 "metadataPorts": dict(self.metadata_ports)}
            if path == "/__sim/nodes" and method == "POST":
                b = body or {}
                name = b["name"]
                info = self.add_virtual_node(name) if b.get("virtual") else self.add_node(name)
                if not b.get("virtual") and b.get("metadata", True) and name not in self.metadata_ports:
                    self.start_metadata(name, host=self._host)
                return 200, dict(info, metadata_port=self.metadata_ports.get(name))
            if path.startswith("/__sim/eips/") and method in ("DELETE", "POST"):
                # out-of-band changes, as if someone used the console
                parts = path.split("/")
                aid = parts[3]
                with self.lock:
                    self.tick()
                    e = self.eips.get(aid)
                    if e is None:
                        return 404, {"error": f"no EIP {aid}"}
                    if method == "DELETE":
                        self._gone(e)
                    elif parts[4:] == ["unassociate"]:
                        self._set_unbound(e)
                    elif parts[4:] == ["tags"]:
                        e["Tags"] = {str(k): str(v) for k, v in (body or {}).items()}
                    else:
                        return 404, {"error": f"no such simulator endpoint {method} {path}"}
                    self.save()
                    return 200, {"eip": self.eip_view(e) if method == "POST" else None}
            if path == "/__sim/pod-ips" and method == "POST":
                ip, eni = self.allocate_pod_ip((body or {})["node"])
                return 200, {"ip": ip, "eni_id": eni}
            if path.startswith("/__sim/pod-ips/") and method == "DELETE":
                self.release_pod_ip(path.rsplit("/", 1)[1])
                return 200, {}
            if path == "/__sim/calls":
                if method == "GET":
                    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
                    calls = self.calls_snapshot()
                    if q.get("action"):
                        calls = [c for c in calls if c["action"] == q["action"]]
                    if q.get("since"):
                        calls = [c for c in calls if c["timestamp"] >= float(q["since"])]
                    return 200, {"calls": calls}
                if method == "DELETE":
                    self.clear_calls()
                    return 200, {"calls": []}
            if path == "/__sim/faults":
                if method == "POST":
                    items = body if isinstance(body, list) else [body]
                    added = [self.add_fault(f) for f in items]
                    return 200, {"added": added, "faults": list(self.faults)}
                if method == "DELETE":
                    self.clear_faults()
                    return 200, {"faults": []}
                if method == "GET":
                    return 200, {"faults": list(self.faults)}
            if path == "/__sim/config":
                if method == "POST":
                    return 200, self.configure(**(body or {}))
                if method == "GET":
                    return 200, self.public_config()
            return 404, {"error": f"no such simulator endpoint {method} {path}"}
        except (KeyError, TypeError, ValueError) as err:
            return 400, {"error": str(err)}

    # ----- instance metadata ---------------------------------------------------------------
    def handle_metadata(self, node_name, h):
        """Serves one metadata request; logged in /__sim/calls as action "Metadata"
        (path, node, whether a hardened-mode token came along; never the token)."""
        started = time.time()
        path = urllib.parse.urlsplit(h.path).path
        res = self._metadata_answer(node_name, h, path)
        call = {"time": iso(started), "timestamp": started, "action": "Metadata", "version": "",
                "product": "Metadata", "method": h.command, "style": "metadata",
                "params": {"path": path, "node": node_name},
                "hardened": h.headers.get("X-aliyun-ecs-metadata-token") is not None,
                "access_key_id": "", "signature_verified": False,
                "http_status": res[0] if isinstance(res, tuple) else 0,
                "code": "" if isinstance(res, tuple) else ("(reset)" if res == "reset" else "(hang)"),
                "client_token": "", "request_id": "",
                "source": f"{h.client_address[0]}:{h.client_address[1]}", "fault": ""}
        self._log(call, started)
        return res

    def _metadata_answer(self, node_name, h, path):
        hdr = {k.lower(): v for k, v in h.headers.items()}
        fault = self._pick_fault("Metadata", wildcard=False)
        if fault:
            if fault["latency_ms"]:
                self._stop.wait(float(fault["latency_ms"]) / 1000.0)
            if fault["hang"]:
                self._stop.wait(600)
                return None
            if fault["reset"]:
                return "reset"
            if fault["code"] or fault["http_status"]:
                return int(fault["http_status"] or 500), "text/plain", fault["code"] or "Internal Server Error"
        now = self.now()
        if h.command == "PUT" and path == "/latest/api/token":
            if "x-forwarded-for" in hdr:
                return 403, "text/plain", "Forbidden"
            ttl = hdr.get("x-aliyun-ecs-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, "text/plain", "Bad Request"
            token = b64url(os.urandom(36))
            with self.lock:
                self.metadata_tokens[token] = (node_name, now + int(ttl))
            return 200, "text/plain", token
        if h.command != "GET":
            return 405, "text/plain", "Method Not Allowed"
        token = hdr.get("x-aliyun-ecs-metadata-token")
        with self.lock:
            if token is not None:
                entry = self.metadata_tokens.get(token)
                if entry is None or entry[0] != node_name or entry[1] <= now:
                    return 401, "text/plain", "Unauthorized"
            elif self.config["metadata_hardened_required"]:
                return 403, "text/plain", "Forbidden"
            self.tick()
            value = self._metadata_value(node_name, path)
        if value is None:
            return 404, "text/html", "<html><body><h1>404 - Not Found</h1></body></html>"
        return 200, "text/plain", value

    def _metadata_value(self, node_name, path):
        node = self.nodes[node_name]
        inst = self.instances[node["instance_id"]]
        primary = self.enis[inst["primary_eni"]]
        enis = [e for e in self.enis.values() if e["InstanceId"] == inst["InstanceId"]]
        by_mac = {e["MacAddress"]: e for e in enis}
        vsw_cidr = str(self._pod_net)
        vpc_cidr = "127.0.0.0/8"
        md = "/latest/meta-data/"
        if path in ("/latest/meta-data", md):
            return "\n".join(["instance-id", "region-id", "zone-id", "vpc-id", "vswitch-id",
                              "mac", "private-ipv4", "hostname", "network/", "ram/",
                              "vpc-cidr-block", "vswitch-cidr-block"])
        if not path.startswith(md):
            return None
        key = path[len(md):]
        simple = {"instance-id": inst["InstanceId"], "region-id": self.region,
                  "zone-id": inst["ZoneId"], "vpc-id": self.vpc_id, "vswitch-id": inst["VSwitchId"],
                  "mac": primary["MacAddress"], "private-ipv4": primary["PrivateIpAddress"],
                  "hostname": node_name, "vpc-cidr-block": vpc_cidr,
                  "vswitch-cidr-block": vsw_cidr, "owner-account-id": ACCOUNT_ID,
                  "instance/instance-type": "ecs.g7.large", "network/": "interfaces/",
                  "network/interfaces/": "macs/", "ram/": "security-credentials/"}
        if key in simple:
            return simple[key]
        if key == "network/interfaces/macs/":
            return "\n".join(m + "/" for m in by_mac)
        prefix = "network/interfaces/macs/"
        if key.startswith(prefix):
            mac, _, leaf = key[len(prefix):].partition("/")
            eni = by_mac.get(mac)
            if eni is None:
                return None
            leaves = {"network-interface-id": eni["NetworkInterfaceId"],
                      "primary-ip-address": eni["PrivateIpAddress"],
                      "private-ipv4s": json.dumps([eni["PrivateIpAddress"]] + eni["secondary"],
                                                  separators=(",", ":")),
                      "vswitch-id": eni["VSwitchId"], "vpc-id": eni["VpcId"],
                      "netmask": str(self._pod_net.netmask), "gateway": str(next(self._pod_net.hosts())),
                      "vswitch-cidr-block": vsw_cidr, "vpc-cidr-block": vpc_cidr}
            if leaf == "":
                return "\n".join(leaves)
            return leaves.get(leaf)
        if key == "ram/security-credentials/":
            return node["ram_role"] or None
        if key.startswith("ram/security-credentials/"):
            role = key[len("ram/security-credentials/"):]
            if role != node["ram_role"] or not role:
                return None
            c = self.ram_credentials(node_name)
            return json.dumps({"AccessKeyId": c["AccessKeyId"], "AccessKeySecret": c["AccessKeySecret"],
                               "Expiration": c["Expiration"], "SecurityToken": c["SecurityToken"],
                               "LastUpdated": c["LastUpdated"], "Code": "Success"}, indent=2)
        return None

    # ----- servers ----------------------------------------------------------------------
    def start(self, host="127.0.0.1", port=0, tls_dir=None):
        """Starts the HTTPS API endpoint (VPC, ECS, STS and /__sim on one port).
        tls_dir: where the CA and certificate live (default: state_dir)."""
        tls_dir = tls_dir or self.state_dir
        sans = ["localhost", "127.0.0.1", "::1"]
        for prod in ("vpc", "ecs", "sts"):
            sans += [f"{prod}.{self.region}.aliyuncs.com", f"{prod}-vpc.{self.region}.aliyuncs.com"]
        sans += ["sts.aliyuncs.com"]
        ctx = simtls.server_context(tls_dir, name="cloudsim", sans=tuple(sans))
        self.ca_file = os.path.join(tls_dir, "ca.crt")
        self._host = host
        srv = _TLSServer((host, port), _ApiHandler, ctx)
        srv.cloud = self
        self._serve(srv)
        self.port = srv.server_address[1]
        return self.port

    def start_metadata(self, node_name, host="127.0.0.1", port=0):
        with self.lock:
            if node_name not in self.nodes or self.nodes[node_name]["virtual"]:
                raise KeyError(f"{node_name} is not an ECS node")
        srv = _Server((host, port), _MetadataHandler)
        srv.cloud = self
        srv.node_name = node_name
        self._serve(srv)
        self.metadata_ports[node_name] = srv.server_address[1]
        return srv.server_address[1]

    def _serve(self, srv):
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        t.start()
        self._servers.append(srv)

    def stop(self):
        self._stop.set()
        stoppers = [threading.Thread(target=srv.shutdown) for srv in self._servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for srv in self._servers:
            srv.server_close()
        self._servers = []


ACTIONS = {
    (VPC_VERSION, "AllocateEipAddress"): Cloud.act_allocate,
    (VPC_VERSION, "AssociateEipAddress"): Cloud.act_associate,
    (VPC_VERSION, "UnassociateEipAddress"): Cloud.act_unassociate,
    (VPC_VERSION, "ReleaseEipAddress"): Cloud.act_release,
    (VPC_VERSION, "DescribeEipAddresses"): Cloud.act_describe,
    (VPC_VERSION, "ModifyEipAddressAttribute"): Cloud.act_modify,
    (VPC_VERSION, "AddCommonBandwidthPackageIp"): Cloud.act_cbwp_add,
    (VPC_VERSION, "RemoveCommonBandwidthPackageIp"): Cloud.act_cbwp_remove,
    (VPC_VERSION, "TagResources"): Cloud.act_tag,
    (VPC_VERSION, "UntagResources"): Cloud.act_untag,
    (VPC_VERSION, "ListTagResources"): Cloud.act_list_tags,
    (ECS_VERSION, "DescribeNetworkInterfaces"): Cloud.act_describe_enis,
    (STS_VERSION, "AssumeRoleWithOIDC"): Cloud.act_assume_oidc,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that go away (timeouts, resets) are normal here

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class _TLSServer(_Server):
    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = super().get_request()
        # The handshake runs in the handler thread (first read), not in the accept loop.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudsim"
    MAX_BODY = 1 << 20

    def log_message(self, *args):
        pass

    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            self.body = b""
            return True
        try:
            n = int(n)
        except ValueError:
            n = -1
        if n < 0 or n > self.MAX_BODY:
            self._send(413, {"Content-Type": "text/plain"}, b"body too large")
            return False
        self.body = self.rfile.read(n) if n else b""
        return True

    def _send(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        # headers and body in one write: no Nagle/delayed-ACK stall between them
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()


def _drop(handler, reset):
    """Ends a connection without an answer; reset=True sends a TCP RST."""
    if reset:
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
            handler.connection.close()
        except OSError:
            pass
    handler.close_connection = True


class _ApiHandler(_BaseHandler):
    def _dispatch(self):
        if not self._read_body():
            return
        cloud = self.server.cloud
        if self.path.startswith("/__sim/") or self.path == "/__sim":
            status, obj = cloud.handle_admin(self)
            self._send(status, {"Content-Type": "application/json"}, json.dumps(obj).encode())
            return
        res = cloud.handle_api(self)
        if res is None or res == "reset":  # hang (already waited) or reset
            _drop(self, reset=res == "reset")
            return
        status, headers, data = res
        self._send(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


class _MetadataHandler(_BaseHandler):
    def _dispatch(self):
        if not self._read_body():
            return
        res = self.server.cloud.handle_metadata(self.server.node_name, self)
        if res is None or res == "reset":
            _drop(self, reset=res == "reset")
            return
        status, ctype, text = res
        self._send(status, {"Content-Type": ctype}, text.encode())

    do_GET = do_PUT = do_POST = do_DELETE = _dispatch


def main(argv=None):
    ap = argparse.ArgumentParser(description="Simulated Alibaba Cloud (VPC, ECS, STS, metadata)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--eip-quota", type=int, default=20)
    args = ap.parse_args(argv)
    cloud = Cloud(args.dir, eip_quota=args.eip_quota, seed=args.seed)
    for i in range(args.nodes):
        cloud.add_node(f"node-{i + 1}")
        cloud.start_metadata(f"node-{i + 1}", host=args.host)
    cloud.start(host=args.host, port=args.port)
    info = cloud.info(args.host)
    path = os.path.join(args.dir, "cloud.json")
    with open(path + ".tmp", "w") as f:
        json.dump(info, f, indent=2)
    os.replace(path + ".tmp", path)
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1):
        pass
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
