"""What every PDF the platform draws shares (night reports, spectrum plots)."""

#: matplotlib settings for PDFs: DejaVu Sans, which matplotlib ships, embedded as TrueType,
#: so that every glyph prints (″, −, Å, accents in names). The 14 PDF core fonts need no
#: embedding but print "?" for the minus sign and the arcsecond.
PDF_FONTS = {"pdf.fonttype": 42, "font.family": "DejaVu Sans"}
