#!/usr/bin/python3
"""A minimal CRI (k8s runtime/v1) client for tests, over containerd's socket.

  cri.py SOCK version
  cri.py SOCK runp POD-CONFIG-JSON HANDLER        -> prints the pod sandbox id
  cri.py SOCK create SANDBOX-ID CONFIG-JSON POD-CONFIG-JSON -> prints the container id
  cri.py SOCK start|status|stopp|rmp|statusp ID
  cri.py SOCK exec ID TIMEOUT CMD...              -> its stdout/stderr, its exit code

The stubs are generated from api.proto (beside this file) into $CRI_GEN
(default: a temporary directory) with grpc_tools.protoc."""
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
gen = os.environ.get("CRI_GEN") or tempfile.mkdtemp(prefix="cri-gen.")
if not os.path.exists(os.path.join(gen, "api_pb2_grpc.py")):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + here, "--python_out=" + gen,
                    "--grpc_python_out=" + gen, os.path.join(here, "api.proto")], check=True)
sys.path.insert(0, gen)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
import api_pb2 as pb  # noqa: E402
import api_pb2_grpc as pbg  # noqa: E402


def main(argv):
    sock, verb, args = argv[1], argv[2], argv[3:]
    rt = pbg.RuntimeServiceStub(grpc.insecure_channel("unix://" + sock))
    t = 120
    if verb == "version":
        r = rt.Version(pb.VersionRequest(version="v1"), timeout=t)
        print(r.runtime_name, r.runtime_version, r.runtime_api_version)
    elif verb == "runp":
        cfg = json_format.ParseDict(json.loads(args[0]), pb.PodSandboxConfig())
        print(rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg, runtime_handler=args[1]), timeout=t).pod_sandbox_id)
    elif verb == "create":
        cfg = json_format.ParseDict(json.loads(args[1]), pb.ContainerConfig())
        pod = json_format.ParseDict(json.loads(args[2]), pb.PodSandboxConfig())
        r = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=args[0], config=cfg, sandbox_config=pod),
                               timeout=t)
        print(r.container_id)
    elif verb == "start":
        rt.StartContainer(pb.StartContainerRequest(container_id=args[0]), timeout=t)
    elif verb == "status":
        s = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=args[0]), timeout=t).status
        print(pb.ContainerState.Name(s.state), s.exit_code, s.reason)
    elif verb == "exec":
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=args[0], timeout=int(args[1]), cmd=args[2:]),
                        timeout=int(args[1]) + 30)
        sys.stdout.write(r.stdout.decode(errors="replace"))
        sys.stdout.write(r.stderr.decode(errors="replace"))
        return r.exit_code
    elif verb == "statusp":
        s = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=args[0]), timeout=t).status
        print(pb.PodSandboxState.Name(s.state))
    elif verb == "stopp":
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=args[0]), timeout=t)
    elif verb == "rmp":
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=args[0]), timeout=t)
    else:
        print("cri.py: unknown verb " + verb, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except grpc.RpcError as e:
        print("cri.py: %s: %s" % (e.code().name, e.details()), file=sys.stderr)
        sys.exit(1)
