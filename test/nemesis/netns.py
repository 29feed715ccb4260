"""The nemesis's hosts: one network namespace each, on a bridge of this
machine's own (hfn0, 10.77.0.0/24; this namespace is 10.77.0.1 on it, so
the workload and the driver reach every host and nothing outside). A
partition is a blackhole route in each side's namespace: packets between
them vanish, both ways, as on a cut link, and what was connected stays
connected until a timeout says otherwise. Nothing here touches anything
but the bridge, the veth pairs and the namespaces it made (all named
hfn*), and remove() takes them all away, also what a killed run left."""

import subprocess

BRIDGE = "hfn0"
SUBNET = "10.77.0"


def sh(*args, check=True):
    out = subprocess.run(list(args), capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), out.stderr.strip()))
    return out


class Host:
    def __init__(self, name, last_octet):
        self.name = name
        self.ns = "hfn-" + name
        self.ip = "%s.%d" % (SUBNET, last_octet)
        self.blocked = set()  # addresses (or the /25 halves) blackholed here

    def run(self, *args):
        """A command's argv inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns] + list(args)

    def up(self):
        veth = "hfn-" + self.name
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        sh("ip", "link", "set", veth, "master", BRIDGE, "up")
        sh(*self.run("ip", "addr", "add", self.ip + "/24", "dev", "eth0"))
        sh(*self.run("ip", "link", "set", "eth0", "up"))
        sh(*self.run("ip", "link", "set", "lo", "up"))

    def block(self, target):
        """Packets from here to target (an address or a prefix) vanish."""
        if target not in self.blocked:
            sh(*self.run("ip", "route", "add", "blackhole", target if "/" in target else target + "/32"))
            self.blocked.add(target)

    def unblock_all(self):
        for target in list(self.blocked):
            sh(*self.run("ip", "route", "del", "blackhole", target if "/" in target else target + "/32"),
               check=False)
        self.blocked.clear()


def partition(side_a, side_b):
    """Every host of side_a and every host of side_b lose each other."""
    for a in side_a:
        for b in side_b:
            a.block(b.ip)
            b.block(a.ip)


def isolate(host, everyone):
    """host loses every other host and this namespace (its own address
    stays: it is in the local table, which a route does not override)."""
    host.block(SUBNET + ".0/25")
    host.block(SUBNET + ".128/25")
    for other in everyone:
        if other is not host:
            other.block(host.ip)


def heal(hosts):
    for h in hosts:
        h.unblock_all()


def remove():
    """Everything named hfn*: namespaces (their veth ends go with them) and
    the bridge."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith("hfn-"):
            sh("ip", "netns", "del", name, check=False)
    sh("ip", "link", "del", BRIDGE, check=False)


def make(hosts):
    """A fresh bridge and the hosts' namespaces on it."""
    remove()
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "addr", "add", SUBNET + ".1/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")
    for h in hosts:
        h.up()
