"""What the product is measured against: the lambdalith and the floor (see README.md here)."""
