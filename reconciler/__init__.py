"""reconciler: declarative, Terraform-style management of Together AI GPU clusters."""

__version__ = "0.1.0"
