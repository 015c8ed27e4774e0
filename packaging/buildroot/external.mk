include $(sort $(wildcard $(BR2_EXTERNAL_ONBOARD_PATH)/package/*/*.mk))
