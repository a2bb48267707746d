// ca_cert.h: the CA certificate the sensor trusts for MQTT over TLS (FW_MQTT_TLS 1), as PEM.
// Paste the site's ca.crt between the markers, e.g. from the chart's TLS Secret:
//   kubectl -n fogwhisk-torino get secret torino-mqtt-tls -o jsonpath='{.data.ca\.crt}' | base64 -d
// or write the whole file in one step:
//   { echo 'static const char kMqttCaCert[] = R"PEM('; cat ca.crt; echo ')PEM";'; } > include/ca_cert.h
// With FW_MQTT_TLS 1 and no certificate here the sensor does not connect and says so on the serial console.
#ifndef FOGWHISK_CA_CERT_H
#define FOGWHISK_CA_CERT_H

static const char kMqttCaCert[] = R"PEM(
)PEM";

#endif  // FOGWHISK_CA_CERT_H
