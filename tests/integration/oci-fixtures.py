#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hand-made OCI images for test-oci.sh: layers built with tarfile, blobs,
manifest, config and index.json written with correct digests, or with one
thing deliberately wrong.

  oci-fixtures.py layer-extra OUT.tar          the 4th layer of the multi-layer image
  oci-fixtures.py tamper KIND SRC DST          copy layout SRC to DST with KIND broken:
                                               flip-byte, wrong-digest, wrong-size, wrong-diffid
  oci-fixtures.py hostile KIND DST CANARYDIR   a layout whose layer tries to escape
  oci-fixtures.py odd-layers DST               empty layers, zeros after the gzip data
  oci-fixtures.py sha512 DST                   a layer named and verified by sha512
  oci-fixtures.py nest SRC DST TAG             DST: SRC's image TAG behind a nested, multi-platform index
  oci-fixtures.py multi-arch SRC DST TAG       DST: SRC's image TAG in an index beside an s390x twin
                                               (test-pull.sh pushes it with skopeo --all)
  oci-fixtures.py stack BASE.tar DST           DST: images over the base layer BASE.tar (test-create-image.sh):
                                               "one" (whiteouts, an opaque dir, parents left to the base),
                                               "two" (another layer on the same base), "lower-link" (a
                                               hard link into the base)
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def put_blob(layout, data):
    d = sha256(data)
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d.split(":")[1]), "wb") as f:
        f.write(data)
    return d


def read_blob(layout, digest):
    alg, hexd = digest.split(":")
    with open(os.path.join(layout, "blobs", alg, hexd), "rb") as f:
        return f.read()


def tar_bytes(entries):
    """entries: list of (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def ti(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link="", uid=0, gid=0):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.mode = mode
    i.uid, i.gid = uid, gid
    i.mtime = 1700000000
    i.linkname = link
    if kind == tarfile.REGTYPE:
        i.size = len(data)
    return (i, data if kind == tarfile.REGTYPE else None)


def write_layout(layout, layer_tars, tag="t", cfg_extra=None, gzip_tail=b""):
    """Write an OCI layout holding one image of gzip layers (GZIP_TAIL
    appended to each compressed blob)."""
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layers, diff_ids = [], []
    for raw in layer_tars:
        gz = gzip.compress(raw, mtime=0) + gzip_tail
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": put_blob(layout, gz), "size": len(gz)})
        diff_ids.append(sha256(raw))
    config = {"architecture": host_arch(), "os": "linux",
              "config": cfg_extra or {},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    write_image(layout, tag, config, layers)


def write_image(layout, tag, config, layers):
    cb = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": put_blob(layout, cb), "size": len(cb)},
                "layers": layers}
    mb = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put_blob(layout, mb),
         "size": len(mb), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def host_arch():
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def load(layout):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    desc = index["manifests"][0]
    manifest = json.loads(read_blob(layout, desc["digest"]))
    config = json.loads(read_blob(layout, manifest["config"]["digest"]))
    return desc["annotations"]["org.opencontainers.image.ref.name"], manifest, config


def tamper(kind, src, dst):
    shutil.copytree(src, dst, symlinks=True)
    tag, manifest, config = load(dst)
    layer = manifest["layers"][0]
    blob = read_blob(dst, layer["digest"])
    path = os.path.join(dst, "blobs", "sha256", layer["digest"].split(":")[1])
    if kind == "flip-byte":
        # The gzip header's mtime: the stream still decompresses, only the digest is wrong.
        b = bytearray(blob)
        b[5] ^= 0xff
        os.chmod(path, 0o644)
        with open(path, "wb") as f:
            f.write(b)
    elif kind == "wrong-digest":
        # The descriptor names other content; the blob is stored under that name.
        layer["digest"] = put_blob(dst, blob + b"x")
        with open(os.path.join(dst, "blobs", "sha256", layer["digest"].split(":")[1]), "wb") as f:
            f.write(blob)
    elif kind == "wrong-size":
        layer["size"] += 1
    elif kind == "wrong-diffid":
        config["rootfs"]["diff_ids"][0] = sha256(b"not this layer")
    else:
        sys.exit("unknown tamper kind " + kind)
    write_image(dst, tag, config, manifest["layers"])


def hostile(kind, dst, canary):
    base = tar_bytes([ti("etc", tarfile.DIRTYPE, mode=0o755), ti("etc/hostname", data=b"x\n")])
    layers = [base]
    if kind == "dotdot":
        layers.append(tar_bytes([ti("../../../../../../../../" + canary.lstrip("/") + "/dotdot", data=b"pwned")]))
    elif kind == "absolute":
        layers.append(tar_bytes([ti(canary + "/absolute", data=b"pwned")]))
    elif kind == "symlink-write":
        layers.append(tar_bytes([ti("esc", tarfile.SYMTYPE, link=canary),
                                 ti("esc/through", data=b"pwned")]))
    elif kind == "symlink-planted":
        layers.append(tar_bytes([ti("planted", tarfile.SYMTYPE, link=canary)]))
        layers.append(tar_bytes([ti("planted/later", data=b"pwned")]))
    elif kind == "symlink-dotdot":
        layers.append(tar_bytes([ti("up", tarfile.SYMTYPE, link="../../../../../../../../" + canary.lstrip("/")),
                                 ti("up/relative", data=b"pwned")]))
    elif kind == "hardlink-out":
        layers.append(tar_bytes([ti("hl", tarfile.LNKTYPE, link="../../../../../../../../" + canary.lstrip("/") + "/canary")]))
    elif kind == "hardlink-absolute":
        layers.append(tar_bytes([ti("hl", tarfile.LNKTYPE, link=canary + "/canary")]))
    elif kind == "hardlink-via-symlink":
        layers.append(tar_bytes([ti("dir", tarfile.SYMTYPE, link=canary),
                                 ti("hl", tarfile.LNKTYPE, link="dir/canary")]))
    elif kind == "whiteout-dotdot":
        layers.append(tar_bytes([ti("../../../../../../../../" + canary.lstrip("/") + "/.wh.canary")]))
    elif kind == "whiteout-symlink":
        layers.append(tar_bytes([ti("sl", tarfile.SYMTYPE, link=canary)]))
        layers.append(tar_bytes([ti("sl/.wh.canary")]))
    elif kind == "whiteout-empty":
        layers.append(tar_bytes([ti("etc/.wh.")]))
    elif kind == "setuid-outside":
        # Owners past a machine's 65536 IDs: in a user's unpack namespace
        # 65536 is the user's own ID, so these would be the user's on the host.
        layers.append(tar_bytes([ti("own", tarfile.DIRTYPE, mode=0o2777, uid=65536, gid=65536),
                                 ti("own/suid", data=b"#!/bin/sh\n", mode=0o6755, uid=65536, gid=65536),
                                 ti("own/far", data=b"x\n", mode=0o4755, uid=200000, gid=0)]))
    elif kind == "devices":
        # A disk (not on berth's allow-list) and /dev/null (on it), world-writable.
        sda, null = ti("dev/sda", tarfile.BLKTYPE, mode=0o666), ti("dev/null", tarfile.CHRTYPE, mode=0o666)
        sda[0].devmajor, sda[0].devminor = 8, 0
        null[0].devmajor, null[0].devminor = 1, 3
        layers.append(tar_bytes([ti("dev", tarfile.DIRTYPE, mode=0o755), sda, null]))
    else:
        sys.exit("unknown hostile kind " + kind)
    write_layout(dst, layers)


def layer_extra(out):
    """Hard links into a lower layer, a whiteout after a file of the same
    layer in another dir, a dir replaced by a symlink, a fifo, owners,
    set-id modes, an xattr."""
    x = ti("data/attr", data=b"with xattr\n")
    x[0].pax_headers = {"SCHILY.xattr.user.berth": "yes"}
    entries = [
        ti("data", tarfile.DIRTYPE, mode=0o755),
        ti("data/link-to-lower", tarfile.LNKTYPE, link="data/file"),
        ti("data/suid", data=b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1000),
        ti("data/owned", tarfile.DIRTYPE, mode=0o2770, uid=1000, gid=100),
        ti("data/fifo", tarfile.FIFOTYPE, mode=0o600),
        ti("data/replaced-by-link", tarfile.SYMTYPE, link="owned"),
        ti("usr/share/.wh.gone-dir"),
        x,
    ]
    with open(out, "wb") as f:
        f.write(tar_bytes(entries))


def nest(src, dst, tag):
    """Put SRC's image TAG behind a nested index that offers it for two platforms."""
    shutil.copytree(src, dst, symlinks=True)
    with open(os.path.join(dst, "index.json")) as f:
        index = json.load(f)
    desc = dict(next(d for d in index["manifests"]
                     if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag))
    ref = desc.pop("annotations")
    other = dict(desc, platform={"os": "linux", "architecture": "s390x"})
    mine = dict(desc, platform={"os": "linux", "architecture": host_arch()})
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": "application/vnd.example.unknown+json",
                                       "digest": desc["digest"], "size": desc["size"]}, other, mine]}).encode()
    top = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put_blob(dst, inner),
         "size": len(inner), "annotations": ref}]}
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump(top, f)


def multi_arch(src, dst, tag):
    """SRC's image TAG and an s390x copy of it (same layers, its own config)
    in one image index named TAG: what a registry serves for a
    multi-platform image."""
    shutil.copytree(src, dst, symlinks=True)
    with open(os.path.join(dst, "index.json")) as f:
        index = json.load(f)
    desc = next(d for d in index["manifests"]
                if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads(read_blob(dst, desc["digest"]))
    config = json.loads(read_blob(dst, manifest["config"]["digest"]))
    config["architecture"] = "s390x"
    cb = json.dumps(config).encode()
    other = dict(manifest, config=dict(manifest["config"], digest=put_blob(dst, cb), size=len(cb)))
    ob = json.dumps(other).encode()
    mt = "application/vnd.oci.image.manifest.v1+json"
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [
                            {"mediaType": mt, "digest": put_blob(dst, ob), "size": len(ob),
                             "platform": {"os": "linux", "architecture": "s390x"}},
                            {"mediaType": mt, "digest": desc["digest"], "size": desc["size"],
                             "platform": {"os": "linux", "architecture": host_arch()}}]}).encode()
    index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json",
                           "digest": put_blob(dst, inner), "size": len(inner),
                           "annotations": {"org.opencontainers.image.ref.name": tag}}]
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump(index, f)


def odd_layers(dst):
    """Valid but unusual: an empty tar, an empty stream, zeros after the gzip member."""
    base = tar_bytes([ti("bin", tarfile.DIRTYPE, mode=0o755), ti("bin/prog", data=b"#!/bin/sh\n", mode=0o755)])
    write_layout(dst, [base, tar_bytes([]), b""], cfg_extra={"Cmd": ["/bin/prog"]}, gzip_tail=b"\0" * 1024)


def sha512_image(dst):
    """Blobs named and checked by sha512, diff_ids too."""
    raw = tar_bytes([ti("bin", tarfile.DIRTYPE, mode=0o755), ti("bin/prog", data=b"#!/bin/sh\n", mode=0o755)])
    gz = gzip.compress(raw, mtime=0)
    d = "sha512:" + hashlib.sha512(gz).hexdigest()
    os.makedirs(os.path.join(dst, "blobs", "sha512"), exist_ok=True)
    with open(os.path.join(dst, "blobs", "sha512", d.split(":")[1]), "wb") as f:
        f.write(gz)
    with open(os.path.join(dst, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    config = {"architecture": host_arch(), "os": "linux", "config": {"Cmd": ["/bin/prog"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha512:" + hashlib.sha512(raw).hexdigest()]}}
    write_image(dst, "t", config, [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                     "digest": d, "size": len(gz)}])


def stack(base_tar, dst):
    """Several images in one layout, sharing the base layer (and "one" and
    "three" their second layer).  The base must have etc/gone,
    etc/app.d/old, usr/share/gone-dir/f, srv/ (0750, 5:5) and bin/busybox."""
    with open(base_tar, "rb") as f:
        base = f.read()
    one = tar_bytes([
        ti("srv/added", data=b"in a dir the layer does not list\n"),
        ti("etc/.wh.gone"),
        ti("usr/share/.wh.gone-dir"),
        ti("etc/app.d", tarfile.DIRTYPE, mode=0o755),
        ti("etc/app.d/.wh..wh..opq"),
        ti("etc/app.d/new", data=b"new\n"),
        ti("nothere/.wh.x"),
        ti("etc/one", data=b"one\n", uid=1000, gid=1000),
        ti("etc/one-link", tarfile.LNKTYPE, link="etc/one"),
        ti("etc/motd", tarfile.DIRTYPE, mode=0o700),
    ])
    three = tar_bytes([
        ti("etc/.wh.one"),
        ti("etc/three", data=b"three\n"),
        ti("srv/.wh..wh..opq"),
    ])
    two = tar_bytes([ti("etc/two", data=b"two\n")])
    lower_link = tar_bytes([ti("bin/busybox-link", tarfile.LNKTYPE, link="bin/busybox")])
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    manifests = []
    for tag, raws in (("one", [base, one]), ("two", [base, two]), ("three", [base, one, three]),
                      ("lower-link", [base, lower_link])):
        layers = []
        for raw in raws:
            gz = gzip.compress(raw, mtime=0)
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": put_blob(dst, gz), "size": len(gz)})
        config = {"architecture": host_arch(), "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [sha256(r) for r in raws]}}
        cb = json.dumps(config).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": put_blob(dst, cb), "size": len(cb)},
                    "layers": layers}
        mb = json.dumps(manifest).encode()
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": put_blob(dst, mb), "size": len(mb),
                          "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": manifests}, f)


def main():
    cmd = sys.argv[1]
    if cmd == "layer-extra":
        layer_extra(sys.argv[2])
    elif cmd == "tamper":
        tamper(*sys.argv[2:5])
    elif cmd == "sha512":
        sha512_image(sys.argv[2])
    elif cmd == "odd-layers":
        odd_layers(sys.argv[2])
    elif cmd == "nest":
        nest(*sys.argv[2:5])
    elif cmd == "multi-arch":
        multi_arch(*sys.argv[2:5])
    elif cmd == "stack":
        stack(*sys.argv[2:4])
    elif cmd == "hostile":
        hostile(*sys.argv[2:5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
