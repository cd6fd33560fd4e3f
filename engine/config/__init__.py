"""The readers of the files a town writes: its org, its holidays, its workflow definitions.

Each file is parsed once, validated whole with pydantic and checked for what a schema cannot
say (unknown people, duplicate ids, a day both off and on). Every problem found is reported
in one error as `FILE:LINE: what is wrong`, so a town fixes its file in one go; a file with
any problem is refused whole. `source` holds what the readers share (reading, parsing with a
line map, collecting problems); `workflow` reads workflow definitions with it.
"""
