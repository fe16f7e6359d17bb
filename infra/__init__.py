"""The Pulumi program: one stack per onboarded project (see Pulumi.yaml)."""
