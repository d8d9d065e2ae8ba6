#!/usr/bin/env python3
"""Writes land.path: the land outlines of Natural Earth's 1:110m land polygons
as SVG path data in an equirectangular projection (x = longitude + 180,
y = 90 - latitude, one unit a degree), rounded to tenths of a degree, with
points closer than 0.3 degrees to the previous one dropped and rings that
cross the antimeridian cut there.

Input: land-110m.json, Natural Earth 4.1.0 as TopoJSON, from the npm package
world-atlas 2.0.2 (`npm pack world-atlas@2.0.2`). Usage: land.py land-110m.json > land.path
"""
import json
import sys

topo = json.load(open(sys.argv[1]))
scale = topo["transform"]["scale"]
translate = topo["transform"]["translate"]

def arc_points(index):
    arc = topo["arcs"][index if index >= 0 else ~index]
    x = y = 0
    points = []
    for dx, dy in arc:
        x += dx
        y += dy
        points.append((x * scale[0] + translate[0], y * scale[1] + translate[1]))
    return points if index >= 0 else points[::-1]

def ring(indices):
    points = []
    for index in indices:
        part = arc_points(index)
        points.extend(part[1:] if points else part)
    return points

out = []
for geometry in topo["objects"]["land"]["geometries"]:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    for polygon in polygons:
        for indices in polygon:
            kept = []
            for lon, lat in ring(indices):
                point = (round(lon + 180, 1), round(90 - lat, 1))
                if kept and abs(point[0] - kept[-1][0]) + abs(point[1] - kept[-1][1]) < 0.3:
                    continue
                kept.append(point)
            # A ring crossing the antimeridian is cut there into pieces, each
            # closed on its own, so no line runs across the whole map.
            pieces = [[]]
            for point in kept:
                if pieces[-1] and abs(point[0] - pieces[-1][-1][0]) > 180:
                    pieces.append([])
                pieces[-1].append(point)
            if len(pieces) > 1 and abs(pieces[0][0][0] - pieces[-1][-1][0]) <= 180:
                pieces[0] = pieces.pop() + pieces[0]
            for piece in pieces:
                if len(piece) < 3:
                    continue
                out.append("M" + "L".join(f"{x:g} {y:g}" for x, y in piece) + "Z")
print("".join(out))
