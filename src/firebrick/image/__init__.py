"""Images: the Glance client, image conversion and the image-volume cache."""
