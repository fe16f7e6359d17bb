"""Which machines and accelerators a Vertex AI training trial may have, as Google documents them.

Vertex AI creates each trial's VM and checks its MachineSpec, so Vertex AI's own page governs
(CONFIGURE_COMPUTE): the machine types a worker pool may name, and per machine type the valid GPU counts ("Valid
numbers of GPUs for each machine type"). Accelerator-optimized machines (a2, a3, a4, a4x, g2, g4) come with a
fixed number of one GPU model; N1 machines take 1, 2, 4 or 8 of a P4, P100, T4 or V100 within a vCPU and memory
limit per GPU count. TPUs are not GPUs: they run on their own machine types and are refused in a GPU field. A GPU
past its end of support is refused; within 90 days of it, a sweep runs with a warning (jobs/vertex/lifecycle.py).
"""

from __future__ import annotations

import datetime as dt
import re

from jobs.vertex.lifecycle import Notice, phase

CONFIGURE_COMPUTE = ("Vertex AI's \"Configure compute resources for ... serverless training\" (docs.cloud.google.com/"
                     "gemini-enterprise-agent-platform/machine-learning/training/configure-compute), read 2026-12-05")
GPU_MACHINE_TYPES = "Compute Engine's \"GPU machine types\" (docs.cloud.google.com/compute/docs/gpus), read 2026-12-05"
RELEASE_NOTES = "Google Cloud release notes of 2026-09-22 (docs.cloud.google.com/release-notes), read 2026-12-05"

# machine type -> (its GPU model, how many it has): CONFIGURE_COMPUTE's compatibility table
FIXED_GPUS: dict[str, tuple[str, int]] = {
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"g2-standard-{v}": ("NVIDIA_L4", n) for v, n in ((4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1),
                                                        (48, 4), (96, 8))},
    **{f"g4-standard-{v}": ("NVIDIA_RTX_PRO_6000", n) for v, n in ((48, 1), (96, 2), (192, 4), (384, 8))},
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8),
    "a4x-highgpu-4g": ("NVIDIA_GB200", 4),
}
# GPU model -> {count: (most vCPUs, most GB of memory) of an N1 machine with that many}. Two pages differ:
# GPU_MACHINE_TYPES allows one T4 up to 48 vCPUs / 312 GB, and four P100s up to 96 vCPUs / 624 GB outside three
# zones; CONFIGURE_COMPUTE's table allows one T4 on no N1 machine of 32 vCPUs (its limit is the P4's, 24 / 156) and
# says "A configuration with 4 NVIDIA_TESLA_P100 GPUs only provides up to 64 virtual CPUS and up to 208 GB of
# memory in all regions and zones", limits it notes "differ from using GPUs with Compute Engine". Vertex AI governs
# (it runs the job); these limits reproduce every N1 row of its table (tests/jobs/vertex/test_machines.py). V100: 78 GB
# each as GPU_MACHINE_TYPES gives it (CONFIGURE_COMPUTE's prose says 76, which its own table's 8 V100s on
# n1-highmem-96, 624 GB, would exceed).
N1_GPUS: dict[str, dict[int, tuple[int, float]]] = {
    "NVIDIA_TESLA_T4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P100": {1: (16, 104), 2: (32, 208), 4: (64, 208)},
    "NVIDIA_TESLA_V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
}
# The N1 machine types CONFIGURE_COMPUTE lists (n1-standard-2 and n1-highcpu-2/4/8 are not among them)
N1_SIZES = {"standard": (4, 8, 16, 32, 64, 96), "highmem": (2, 4, 8, 16, 32, 64, 96), "highcpu": (16, 32, 64, 96)}
N1_GB_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}  # GPU_MACHINE_TYPES' N1 shapes
N1 = re.compile(r"n1-(?P<family>standard|highmem|highcpu)-(?P<vcpus>\d+)")
# GPU -> (its end of support, None when long past; the source). K80: AcceleratorType NVIDIA_TESLA_K80 is
# "Deprecated: Nvidia Tesla K80 GPU has reached end of support". RELEASE_NOTES: "As of September 15, 2026, NVIDIA
# P100 ... GPUs have reached end of support (EOS) and are shut down", and "NVIDIA T4 ... and NVIDIA P4 ... GPUs are
# deprecated and will reach end of support (EOS) on August 1, 2027".
END_OF_SUPPORT: dict[str, tuple[dt.date | None, str]] = {
    "NVIDIA_TESLA_K80": (None, "aiplatform v1 AcceleratorType"),
    "NVIDIA_TESLA_P100": (dt.date(2026, 9, 15), RELEASE_NOTES),
    "NVIDIA_TESLA_T4": (dt.date(2027, 8, 1), RELEASE_NOTES),
    "NVIDIA_TESLA_P4": (dt.date(2027, 8, 1), RELEASE_NOTES),
}
# CONFIGURE_COMPUTE marks NVIDIA_GB200 "Requires obtaining capacity using shared reservations"; the sweeps' requests
# name no reservation (MachineSpec.reservationAffinity), so no trial could get one.
RESERVATION_ONLY = {"NVIDIA_GB200"}
# DiskSpec.bootDiskType: "The default value is pd-ssd (hyperdisk-balanced is the default for a3-ultragpu-8g and
# a4-highgpu-8g)" (CONFIGURE_COMPUTE; the v1 proto names A3 Ultra only); bootDiskSizeGb: "The default value is 100".
# The requests set no DiskSpec. For a4x and g4 machines the docs give no default: pd-ssd, the documented one, is
# assumed.
HYPERDISK_BOOT = frozenset({"a3-ultragpu-8g", "a4-highgpu-8g"})
BOOT_DISK_GB = 100
INSTEAD = "e.g. NVIDIA_L4 (g2-standard-4) or NVIDIA_TESLA_V100 (n1-standard-8)"


def n1_shape(machine_type: str) -> tuple[int, float] | None:
    """(vCPUs, GB of memory) of an N1 machine type Vertex AI training lists; None for any other."""
    match = N1.fullmatch(machine_type)
    if not match or int(match["vcpus"]) not in N1_SIZES[match["family"]]:
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
    for family, sizes in N1_SIZES.items():
        for vcpus in sizes:
            machine = f"n1-{family}-{vcpus}"
            counts = [c for c in N1_GPUS[accelerator] if n1_fits(machine, accelerator, c)]
            if counts:
                n1.append(f"{machine} ({', '.join(map(str, counts))})")
    return fixed + n1


def support_notice(accelerator: str, today: dt.date) -> Notice | None:
    """``accelerator`` past its end of support (refused) or within 90 days of it (a warning); None otherwise."""
    if accelerator not in END_OF_SUPPORT:
        return None
    end, source = END_OF_SUPPORT[accelerator]
    if end is None:
        return Notice(True, f"{accelerator} has reached end of support ({source}); pick another GPU, {INSTEAD}")
    stage = phase(end, today)
    if stage == "gone":
        return Notice(True, f"{accelerator} reached end of support on {end} and Vertex AI no longer provides it "
                            f"({source}); pick another GPU, {INSTEAD}")
    if stage == "ending":
        return Notice(False, f"{accelerator} reaches end of support on {end}, in {(end - today).days} days "
                             f"({source}); from then on sweeps with it are refused: move to another GPU, {INSTEAD}")
    return None


def machine_type_problem(machine_type: str) -> str | None:
    """Why Vertex AI training would refuse ``machine_type`` whatever its accelerator: an N1 type it does not list."""
    if N1.fullmatch(machine_type) and n1_shape(machine_type) is None:
        listed = ", ".join(f"n1-{family}-{sizes[0]} to -{sizes[-1]}" for family, sizes in N1_SIZES.items())
        return (f"{machine_type} is not a machine type Vertex AI training takes ({CONFIGURE_COMPUTE} lists {listed}); "
                "pick e.g. n1-standard-4 or n1-highmem-2")
    return None


def machine_problem(machine_type: str, accelerator: str | None, count: int) -> str | None:
    """Why Vertex AI training would refuse this machine with this accelerator whatever the date, or None when its
    table takes it. Dated ends of support are checked when a sweep is planned or submitted (``support_notice``),
    not here: a spec stays readable, and an old run's report stays possible, after its GPU's end."""
    if why := machine_type_problem(machine_type):
        return why
    fixed = FIXED_GPUS.get(machine_type)
    gpu = accelerator or (fixed[0] if fixed else None)
    if gpu in RESERVATION_ONLY:
        return (f"{gpu} ({', '.join(fitting_machines(gpu))}): Vertex AI training gives it only from a shared "
                f"reservation (\"Requires obtaining capacity using shared reservations\": {CONFIGURE_COMPUTE}), and "
                "these sweeps request none; pick NVIDIA_B200 (a4-highgpu-8g) or NVIDIA_H200_141GB (a3-ultragpu-8g)")
    if accelerator is None:
        if fixed:
            return (f"{machine_type} comes with {fixed[1]} {fixed[0]}: set accelerator_type: {fixed[0]} and "
                    f"accelerator_count: {fixed[1]}")
        return None
    if accelerator.startswith("TPU_"):
        return (f"{accelerator} is a TPU, not a GPU: TPUs run on their own machine types, which these sweeps do "
                f"not use; pick a GPU ({INSTEAD}) or none")
    if accelerator in END_OF_SUPPORT and END_OF_SUPPORT[accelerator][0] is None:  # retired, whatever the date
        return support_notice(accelerator, dt.date.today()).text
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


def boot_disk(machine_type: str) -> tuple[str, int]:
    """The boot disk a trial on ``machine_type`` gets, (type, GB): DiskSpec's defaults."""
    return ("hyperdisk-balanced" if machine_type in HYPERDISK_BOOT else "pd-ssd"), BOOT_DISK_GB
