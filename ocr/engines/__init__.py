"""Built-in OCR engines, registered through the dossier_ocr_engines hook."""
