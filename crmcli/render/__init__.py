"""The one output path: lists, records, report sections and cards in every format."""
