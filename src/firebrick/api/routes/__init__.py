"""HTTP routes, each module one resource; thin: translate, call, render."""
