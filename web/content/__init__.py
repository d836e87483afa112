"""Comments and evidence attachments on case and task pages: post, upload, download, withdraw."""
