"""Route maps (folium) for couriers, dispatchers and citizens, and GeoJSON exports of routes."""
