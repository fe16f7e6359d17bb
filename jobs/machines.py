"""Which machines and accelerators a Vertex AI training trial may have, as Google documents them.

Accelerator-optimized machines (a2, a3, a4, g2) come with a fixed number of one GPU model; N1 machines
take 1, 2, 4 or 8 of a P4, P100, T4 or V100 within a vCPU and memory limit per GPU count. Sources:
Vertex AI's GPU compatibility table ("Configure compute resources for custom training") and Compute
Engine's GPU pages (cloud.google.com/compute/docs/gpus). TPUs are not GPUs: they run on their own
machine types and are refused in a GPU field.
"""

from __future__ import annotations

import re

# machine type -> (its GPU model, how many it has)
FIXED_GPUS: dict[str, tuple[str, int]] = {
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"g2-standard-{v}": ("NVIDIA_L4", n) for v, n in ((4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1),
                                                        (48, 4), (96, 8))},
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8),
}
# GPU model -> {count: (most vCPUs, most GB of memory) of an N1 machine with that many}
N1_GPUS: dict[str, dict[int, tuple[int, float]]] = {
    "NVIDIA_TESLA_T4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P100": {1: (16, 104), 2: (32, 208), 4: (64, 208)},
    "NVIDIA_TESLA_V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
}
N1_SIZES = (2, 4, 8, 16, 32, 64, 96)
N1_GB_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
N1 = re.compile(r"n1-(?P<family>standard|highmem|highcpu)-(?P<vcpus>\d+)")
RETIRED = {"NVIDIA_TESLA_K80": "the K80 has reached end of support on Vertex AI"}


def n1_shape(machine_type: str) -> tuple[int, float] | None:
    """(vCPUs, GB of memory) of an N1 machine type; None for any other."""
    match = N1.fullmatch(machine_type)
    if not match or int(match["vcpus"]) not in N1_SIZES:
        return None
    vcpus = int(match["vcpus"])
    return vcpus, vcpus * N1_GB_PER_VCPU[match["family"]]


def n1_fits(machine_type: str, accelerator: str, count: int) -> bool:
    """Whether ``count`` of ``accelerator`` attach to this N1 machine (its vCPUs and memory within the limit)."""
    shape, limits = n1_shape(machine_type), N1_GPUS.get(accelerator, {})
    if shape is None or count not in limits:
        return False
    return shape[0] <= limits[count][0] and shape[1] <= limits[count][1]


def fitting_machines(accelerator: str) -> list[str]:
    """Machine types that take ``accelerator``, each with the counts it allows, e.g. ``a2-highgpu-1g (1)``."""
    fixed = [f"{machine} ({count})" for machine, (gpu, count) in FIXED_GPUS.items() if gpu == accelerator]
    if accelerator not in N1_GPUS:
        return fixed
    n1 = []
    for family in N1_GB_PER_VCPU:
        for vcpus in N1_SIZES:
            machine = f"n1-{family}-{vcpus}"
            counts = [c for c in N1_GPUS[accelerator] if n1_fits(machine, accelerator, c)]
            if counts:
                n1.append(f"{machine} ({', '.join(map(str, counts))})")
    return fixed + n1


def machine_problem(machine_type: str, accelerator: str | None, count: int) -> str | None:
    """Why Vertex AI training would refuse this machine with this accelerator, or None when it takes it."""
    fixed = FIXED_GPUS.get(machine_type)
    if accelerator is None:
        if fixed:
            return (f"{machine_type} comes with {fixed[1]} {fixed[0]}: set accelerator_type: {fixed[0]} and "
                    f"accelerator_count: {fixed[1]}")
        return None
    if accelerator.startswith("TPU_"):
        return (f"{accelerator} is a TPU, not a GPU: TPUs run on their own machine types, which these sweeps do "
                "not use; pick a GPU (e.g. NVIDIA_TESLA_T4, NVIDIA_L4) or none")
    if accelerator in RETIRED:
        return f"{accelerator}: {RETIRED[accelerator]}; pick another GPU, e.g. NVIDIA_TESLA_T4 or NVIDIA_L4"
    if fixed and fixed == (accelerator, count):
        return None
    if accelerator in N1_GPUS and n1_fits(machine_type, accelerator, count):
        return None
    fits = fitting_machines(accelerator)
    if not fits:
        return f"{accelerator} is not a GPU that Vertex AI training attaches to a machine"
    if fixed and fixed[0] == accelerator:
        return f"{machine_type} has exactly {fixed[1]} {accelerator}, got accelerator_count {count}"
    return (f"{count} x {accelerator} does not fit machine type {machine_type}; machines that take it "
            f"(allowed counts): {', '.join(fits)}")
