"""aiaas vertical for healthcare: medical image classification (PNG, JPEG, DICOM)."""
